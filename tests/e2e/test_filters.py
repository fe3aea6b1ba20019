"""Dashboard filters: status, severity, action (Radix selects) and the free-text search."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import post_alerts, unique
from tests.support.browser import alert_row, choose, expect_pushed, search
from tests.support.payloads import am_alert, notification

pytestmark = pytest.mark.e2e


def shown(page: Page) -> list[str]:
    return page.locator(".alert-row a.alertname").all_inner_texts()


def expect_shown(page: Page, *alertnames: str) -> None:
    rows = page.locator(".alert-row")
    expect(rows).to_have_count(len(alertnames))
    for name in alertnames:
        expect(alert_row(page, name)).to_be_visible()


def test_filters_narrow_the_list(app, new_tab):
    tag = unique("Flt")
    host = f"{tag}-host:9100"
    crit, warn, gone = f"{tag}Crit", f"{tag}Warn", f"{tag}Gone"
    page = new_tab().open_dashboard(app)
    post_alerts(
        app,
        notification(
            am_alert(crit, severity="critical", instance=host),
            am_alert(warn, severity="warning", instance=host),
            am_alert(gone, severity="warning", instance=host, status="resolved", ends_at="2026-01-01T00:10:00Z"),
            # The seeded "Watchdog" rule files it under action=ignore.
            am_alert("Watchdog", severity="none", instance=host),
        ),
    )
    expect_pushed([page], crit, since=time.monotonic())

    # The search matches the instance of all four; the ignored Watchdog stays hidden by default.
    search(page, tag)
    expect_shown(page, crit, warn, gone)
    expect(page.locator("#showing")).to_have_text("1-3 of 3")

    choose(page, "filter-severity", "critical")
    expect_shown(page, crit)
    choose(page, "filter-severity", "any")
    expect_shown(page, crit, warn, gone)

    choose(page, "filter-status", "resolved")
    expect_shown(page, gone)
    choose(page, "filter-status", "any")

    choose(page, "filter-action", "ignore")
    expect_shown(page, "Watchdog")
    expect(alert_row(page, "Watchdog")).to_contain_text(host)
    choose(page, "filter-action", "auto_analyze")
    expect_shown(page, crit)
    choose(page, "filter-action", "any")
    expect_shown(page, crit, warn, gone)

    # A search that matches nothing.
    search(page, f"{tag}-nothing-like-this")
    expect(page.locator(".alert-row")).to_have_count(0)
    expect(page.locator("#showing")).to_have_text("No alerts match.")


def test_pushed_alerts_respect_the_filters(app, new_tab):
    tag = unique("FltPush")
    page = new_tab().open_dashboard(app)
    search(page, tag)
    choose(page, "filter-severity", "critical")
    expect(page.locator("#showing")).to_have_text("No alerts match.")

    crit, warn = f"{tag}Crit", f"{tag}Warn"
    post_alerts(app, notification(am_alert(crit, severity="critical"), am_alert(warn, severity="warning")))
    expect_pushed([page], crit, since=time.monotonic())
    # Both came in the same refresh: the warning one is filtered out, not late.
    assert shown(page) == [crit]
    expect(page.locator("#filter-q")).to_have_value(tag)
