"""The notifications page in the browser: add a route whose Apprise URL holds a password and a header
token, Send test to a real json:// receiver, a new alert delivered by the app's own worker, a failed
delivery listed with its (masked) error and retried from the page; no part of the URL ever reaches
the page, its websocket frames or the API's answers."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import post_alerts, unique
from tests.e2e.test_admin_pages import admin_tab
from tests.support.browser import LOAD_TIMEOUT_MS
from tests.support.notify_receivers import JsonReceiver
from tests.support.payloads import am_alert, notification

pytestmark = pytest.mark.e2e
SEND_TIMEOUT_MS = 25_000  # the app's worker wakes on the webhook's event; an attempt takes milliseconds


def test_notifications_page_sends_retries_and_keeps_the_url_secret(app, new_tab):
    password, token = unique("e2e-notify-pass-"), unique("e2e-notify-token-")
    prefix, name = unique("E2ENotify"), unique("e2e-route-")
    with JsonReceiver() as receiver:
        url = receiver.url("/hook", **{"+X-Token": token}).replace("json://", f"json://bot:{password}@")
        tab = admin_tab(app, new_tab, "/admin/notifications", record_frames=True)
        page = tab.page
        expect(page.locator("#routes-loaded")).to_be_attached(timeout=LOAD_TIMEOUT_MS)
        page.fill("#route-name", name)
        page.fill("#route-url", url)
        page.locator("#route-event-alert").click()
        page.locator("#route-event-analysis").click()  # ticked by default: untick it
        page.fill("#route-label-patterns", f"alertname={prefix}*")
        page.click("#route-save")
        expect(page.locator("#routes-notice")).to_have_text(f"Saved route {name}.")
        row = page.locator(f"#route-row-{name}")
        expect(row.locator(".route-target")).to_have_text("json")
        expect(row.locator(".route-events")).to_have_text("New alert matching a rule")
        expect(page.locator("#route-url")).to_have_value("")

        row.locator(".test-route").click()
        expect(row.locator(".test-ok")).to_have_text("Test message sent (1 target).", timeout=SEND_TIMEOUT_MS)
        assert receiver.posted[-1].headers["X-Token"] == token

        # A new alert matching the route reaches the receiver through the app's worker; the deliveries
        # list follows it live.
        post_alerts(app, notification(am_alert(f"{prefix}-a", severity="critical")))
        mine = page.locator(".delivery-row", has_text=name)
        expect(mine.locator(".delivery-status")).to_have_text("sent", timeout=SEND_TIMEOUT_MS)

        # The receiver refuses the next one (404: no retry changes that): it fails at once, with why.
        receiver.status = 404
        post_alerts(app, notification(am_alert(f"{prefix}-b", severity="critical")))
        page.select_option("#deliveries-status", "failed")
        expect(mine).to_have_count(1, timeout=SEND_TIMEOUT_MS)
        expect(mine.locator(".delivery-error")).to_contain_text("404")
        receiver.status = 200
        mine.locator(".retry-delivery").click()
        expect(page.locator("#deliveries-notice")).to_contain_text("queued again")
        page.select_option("#deliveries-status", "sent")
        expect(mine).to_have_count(2, timeout=SEND_TIMEOUT_MS)
        titles = [p.body["title"] for p in receiver.posted]
        assert any(f"{prefix}-a" in t for t in titles) and any(f"{prefix}-b" in t for t in titles), titles

        listing = httpx.get(f"{app.url}/api/notify/routes", headers=app.bearer(), timeout=30)
        history = httpx.get(f"{app.url}/api/notify/deliveries", headers=app.bearer(), timeout=30)
        seen = "\n".join([*tab.frames, page.content(), listing.text, history.text])
        assert tab.frames and password not in seen and token not in seen and "bot:" not in seen

        # Other tests share this app: the route goes.
        row.locator(".delete-route").click()
        page.locator(".confirm-delete").click()
        expect(page.locator("#routes-notice")).to_have_text("Route deleted.")
