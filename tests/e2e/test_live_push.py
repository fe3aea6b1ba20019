"""A webhook's alert reaches every open dashboard without a reload (one worker, in-process bus)."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import post_alerts, unique
from tests.support.browser import alert_row, expect_pushed
from tests.support.payloads import am_alert, notification

pytestmark = pytest.mark.e2e


def test_new_alert_appears_without_reload(app, new_tab):
    tab = new_tab()
    page = tab.open_dashboard(app)
    tab.mark()
    name = unique("LivePush")
    expect(alert_row(page, name)).to_have_count(0)

    post_alerts(app, notification(am_alert(name, severity="critical", instance="db-7:9100")))
    expect_pushed([page], name, since=time.monotonic())

    assert tab.still_same_document(), "the page reloaded: the row must arrive by push"
    row = alert_row(page, name)
    expect(row.locator(".status")).to_have_text("firing")
    expect(row.locator(".severity")).to_have_text("critical")
    expect(row).to_contain_text("db-7:9100")
    expect(page.locator("#live-flag")).to_have_text("live")


def test_two_tabs_both_get_the_new_alert(app, new_tab):
    tabs = [new_tab(), new_tab()]
    pages = [tab.open_dashboard(app) for tab in tabs]
    for tab in tabs:
        tab.mark()
    name = unique("TwoTabs")

    post_alerts(app, notification(am_alert(name)))
    expect_pushed(pages, name, since=time.monotonic())
    assert all(tab.still_same_document() for tab in tabs)
