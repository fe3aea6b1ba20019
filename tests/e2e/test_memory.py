"""Incident memory in the browser: an outcome recorded on an alert's page (verdict, root cause, fix,
commands, tags) shows who recorded it and the fix waiting for its verdict; the same alert firing
again shows "Seen 1 time before; last fixed by ..." and the earlier incident; the reliability page
counts it. What people wrote is shown as text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import post_alerts, unique
from tests.e2e.test_alert_page import alert_id_of
from tests.support.browser import LOAD_TIMEOUT_MS
from tests.support.payloads import am_alert, notification

pytestmark = pytest.mark.e2e
HOSTILE = '<img src=x onerror="window.__pwned=1">'


def test_an_outcome_recorded_on_the_alert_page_is_remembered_by_the_next_alert(app, new_tab):
    name, fingerprint = unique("MemFix"), unique("fp-")
    started = datetime.now(UTC) - timedelta(minutes=30)
    post_alerts(app, notification(am_alert(name, fingerprint=fingerprint, starts_at=started.isoformat())))
    first = alert_id_of(app, name)
    tab = new_tab()
    page = tab.open_dashboard(app)
    page.goto(f"{app.url}/alerts/{first}")
    expect(page.locator("#seen-before")).to_have_text("Not seen before", timeout=LOAD_TIMEOUT_MS)
    expect(page.locator("#no-similar")).to_be_visible()

    # Saving without a verdict is refused, and what was typed stays.
    page.locator("#outcome-fix-input").fill(f"Restarted the fixer {HOSTILE}")
    page.locator("#outcome-save").click()
    expect(page.locator("#outcome-error")).to_have_text("Choose whether the analysis was right.")
    page.locator("#outcome-verdict-choice").get_by_role("radio", name="partly").click()
    page.locator("#outcome-root-cause-input").fill("The fixer leaked memory")
    page.locator("#outcome-commands-input").fill("systemctl restart fixer\n")
    page.locator("#outcome-tags-input").fill("Memory Leak, fixer")
    page.locator("#outcome-save").click()

    expect(page.locator("#outcome-notice")).to_have_text("Outcome recorded.", timeout=LOAD_TIMEOUT_MS)
    expect(page.locator("#outcome-verdict")).to_have_text("analysis partly")
    expect(page.locator("#outcome-fix")).to_have_text(f"Fix: Restarted the fixer {HOSTILE}")
    expect(page.locator("#outcome-commands")).to_contain_text("systemctl restart fixer")
    expect(page.locator(".outcome-tag")).to_have_text(["memory-leak", "fixer"])
    expect(page.locator("#outcome-author")).to_contain_text("Recorded by admin")
    expect(page.locator("#fix-status")).to_have_text("fix pending")
    expect(page.locator("#fix-detail")).to_contain_text("Waiting: the alert must resolve by")

    # Edit: the form comes back filled; a changed verdict is saved.
    page.locator("#outcome-edit").click()
    expect(page.locator("#outcome-root-cause-input")).to_have_value("The fixer leaked memory")
    page.locator("#outcome-verdict-choice").get_by_role("radio", name="right").click()
    page.locator("#outcome-save").click()
    expect(page.locator("#outcome-notice")).to_have_text("Outcome saved.", timeout=LOAD_TIMEOUT_MS)
    expect(page.locator("#outcome-verdict")).to_have_text("analysis right")
    expect(page.locator("#outcome-author")).to_contain_text("changed by admin")

    # The same alert again: the page remembers the earlier fix.
    post_alerts(app, notification(am_alert(name, fingerprint=fingerprint, starts_at=datetime.now(UTC).isoformat())))
    second = max(first, alert_id_of(app, name, "firing"))
    assert second != first
    page.goto(f"{app.url}/alerts/{second}")
    expect(page.locator("#seen-before")).to_have_text(
        f"Seen 1 time before; last fixed by Restarted the fixer {HOSTILE} (pending)", timeout=LOAD_TIMEOUT_MS
    )
    similar = page.locator("#similar-incidents .similar-incident")
    expect(similar).to_have_count(1)
    expect(similar.locator(".similar-link")).to_have_attribute("href", f"/alerts/{first}")
    expect(page.locator("#outcome-form")).to_be_visible()  # this one has no outcome yet
    assert page.evaluate("typeof window.__pwned") == "undefined"

    page.goto(f"{app.url}/reliability")
    expect(page.locator("#table-by_alertname .reliability-row").filter(has_text=name)).to_contain_text("100%")
