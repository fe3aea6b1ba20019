"""The incident pages in the browser: the list links to an incident, whose page (titled after it)
shows its alerts with links to their pages and its timeline, and follows a new notification of the
group live. Alert text is shown as text."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import post_alerts, unique
from tests.support.browser import LOAD_TIMEOUT_MS
from tests.support.payloads import am_alert, notification

pytestmark = pytest.mark.e2e
HOSTILE = '<img src=x onerror="window.__pwned=1">'


def grouped(key: str, name: str, *instances: str) -> dict[str, Any]:
    alerts = (
        am_alert(
            name,
            instance=i,
            fingerprint=f"{key}-{i}",
            starts_at="2026-01-01T00:00:00Z",
            annotations={"summary": f"{HOSTILE} on {i}"},
        )
        for i in instances
    )
    payload = notification(*alerts)
    payload["groupKey"], payload["groupLabels"] = key, {"alertname": name}
    return payload


def test_incident_page_shows_its_alerts_and_timeline_live(app, new_tab):
    name, key = unique("IncidentDisk"), unique("group-")
    post_alerts(app, grouped(key, name, "a:9100", "b:9100"))
    tab = new_tab()
    tab.open_dashboard(app)
    page = tab.page
    page.goto(app.url + "/incidents")
    expect(page.locator("#incidents-live")).to_have_text("live", timeout=LOAD_TIMEOUT_MS)
    row = page.locator(".incident-row").filter(has=page.get_by_role("link", name=name, exact=True))
    expect(row.locator(".incident-alerts")).to_have_text("2 / 2")
    row.get_by_role("link", name=name, exact=True).click()

    expect(page).to_have_url(re.compile(r"/incidents/\d+$"))
    expect(page.locator("#incident-title")).to_have_text(name, timeout=LOAD_TIMEOUT_MS)
    expect(page).to_have_title(f"{name} · Remediation Engine")
    expect(page.locator("#incident-counts")).to_have_text("2 firing of 2 alerts")
    alerts = page.locator("#incident-alerts .incident-alert-row")
    expect(alerts).to_have_count(2)
    expect(alerts.first).to_contain_text(HOSTILE)  # as text: the markup did not become an element
    assert page.evaluate("typeof window.__pwned") == "undefined"
    kinds = page.locator("#incident-timeline .incident-timeline-row")
    expect(kinds).to_have_count(2)
    assert [k.get_attribute("data-kind") for k in kinds.all()] == ["opened", "notification"]

    # The group grows: the open page follows.
    post_alerts(app, grouped(key, name, "a:9100", "b:9100", "c:9100"))
    expect(page.locator("#incident-counts")).to_have_text("3 firing of 3 alerts", timeout=LOAD_TIMEOUT_MS)
    expect(alerts).to_have_count(3)
    expect(kinds).to_have_count(3)

    # An alert's link opens its page.
    alerts.filter(has_text="c:9100").get_by_role("link", name=name, exact=True).click()
    expect(page).to_have_url(re.compile(r"/alerts/\d+$"))
    expect(page.locator("#alert-name")).to_have_text(name, timeout=LOAD_TIMEOUT_MS)
