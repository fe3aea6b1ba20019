"""The board (issue 15): counts, sortable columns, filters in the address (surviving a reload, bad
values ignored with a notice), label filters, keyboard navigation, the title; and the frame on a
phone and a wide screen, with the theme kept across reloads. (The connection badge turning to
"disconnected" when the server stops is in test_restart.py, which stops a server anyway.)"""

from __future__ import annotations

import re
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.e2e.conftest import post_alerts, unique
from tests.support.browser import LOAD_TIMEOUT_MS, alert_row, search
from tests.support.payloads import am_alert, notification

pytestmark = pytest.mark.e2e


def expect_order(page: Page, *names: str) -> None:
    expect(page.locator(".alert-row a.alertname")).to_have_text(list(names))


def address(page: Page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def expect_address(page: Page, **params: str) -> None:
    """The address bar's query is exactly `params` (written back without a reload)."""
    deadline = time.monotonic() + 5
    wanted = {k: [v] for k, v in params.items()}
    while address(page) != wanted and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert address(page) == wanted


def count(page: Page, key: str) -> Locator:
    return page.locator(f"#count-{key} .count-value")


def test_board_sorts_filters_by_address_and_keys(app, new_tab):
    tag = unique("Board")
    a, b, c, d = (f"{tag}{x}" for x in "ABCD")
    post_alerts(
        app,
        notification(
            am_alert(a, severity="critical", labels={"team": "storage"}),
            am_alert(b, severity="warning", labels={"team": "compute"}),
            am_alert(
                c, severity="critical", status="resolved", ends_at="2026-01-01T00:10:00Z", labels={"team": "storage"}
            ),
            am_alert(d, severity="info", labels={"team": "storage"}),
        ),
    )
    tab = new_tab()
    page = tab.open_dashboard(app)
    tab.mark()
    search(page, tag)
    # Firing before resolved, then by severity.
    expect_order(page, a, b, d, c)
    expect_address(page, q=tag)
    expect(count(page, "firing")).to_have_text("3")
    expect(count(page, "firing-critical")).to_have_text("1")
    expect(count(page, "resolved-critical")).to_have_text("1")
    expect(count(page, "active")).to_have_text("3")
    expect(page).to_have_title("(3) Alerts · Remediation Engine")

    # A count lists what it counts; "all" of a status keeps any severity.
    page.locator("#count-firing-critical").click()
    expect_order(page, a)
    expect_address(page, q=tag, status="firing", severity="critical")
    page.locator("#count-firing").click()
    expect_order(page, a, b, d)

    # A header sorts, then reverses; the other columns say they are not sorted.
    header = page.locator("#sort-alertname")
    header.locator("button").click()
    expect_order(page, a, b, d)
    expect(header).to_have_attribute("aria-sort", "ascending")
    header.locator("button").click()
    expect_order(page, d, b, a)
    expect(header).to_have_attribute("aria-sort", "descending")
    expect(page.locator("#sort-severity")).to_have_attribute("aria-sort", "none")

    page.locator("#filter-labels").fill("team=storage")
    expect_order(page, d, a)
    expect_address(page, q=tag, status="firing", label="team=storage", sort="-alertname")
    page.locator("#filter-labels").fill("team=~(")
    expect(page.locator("#label-error")).to_contain_text("invalid regular expression")
    page.locator("#filter-labels").fill("team=~stor.*")
    expect_order(page, d, a)
    assert tab.still_same_document()  # all of it without reloading the page

    # A reload (or a shared link) shows the same board.
    page.reload()
    expect(page.locator("#live-flag")).to_have_text("live", timeout=LOAD_TIMEOUT_MS)
    expect_order(page, d, a)
    expect(page.locator("#filter-q")).to_have_value(tag)
    expect(page.locator("#filter-labels")).to_have_value("team=~stor.*")
    expect(page.locator("#filter-status")).to_have_text("firing")
    expect(page.locator("#sort-alertname")).to_have_attribute("aria-sort", "descending")

    # Keyboard: j/k select, Enter opens, back returns to the same board; / searches, Escape leaves.
    blur = "document.activeElement && document.activeElement.blur()"
    page.evaluate(blur)
    page.keyboard.press("j")
    expect(alert_row(page, d)).to_have_attribute("data-selected", "true")
    page.keyboard.press("j")
    expect(alert_row(page, a)).to_have_attribute("data-selected", "true")
    expect(alert_row(page, d)).not_to_have_attribute("data-selected", "true")
    page.keyboard.press("k")
    expect(alert_row(page, d)).to_have_attribute("aria-selected", "true")
    d_id = alert_row(page, d).get_attribute("data-alert-id")
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{app.url}/alerts/{d_id}", timeout=LOAD_TIMEOUT_MS)
    page.go_back()
    expect_order(page, d, a)
    assert address(page)["label"] == ["team=~stor.*"]
    page.evaluate(blur)
    page.keyboard.press("/")
    expect(page.locator("#filter-q")).to_be_focused()
    page.keyboard.press("j")  # typed into the search (replacing it: `/` selects it), not a selection
    expect(page.locator("#filter-q")).to_have_value("j")
    page.keyboard.press("Escape")
    expect(page.locator("#filter-q")).not_to_be_focused()

    # The same address in another browser (a shared link) shows the same board.
    other = new_tab()
    app.login(other.context)
    other.page.goto(f"{app.url}/?q={tag}&status=firing&label=team%3D~stor.*&sort=-alertname")
    expect(other.page.locator("#live-flag")).to_have_text("live", timeout=LOAD_TIMEOUT_MS)
    expect_order(other.page, d, a)
    expect(other.page.locator("#address-notice")).to_have_count(0)

    # Clear, then an address with values the board cannot use: ignored, named, and dropped.
    page.locator("#clear-filters").click()
    expect_address(page)
    page.goto(f"{app.url}/?severity=bogus&sort=nope&page=x&label=team&q={tag}")
    expect(page.locator("#address-notice")).to_contain_text("severity=bogus", timeout=LOAD_TIMEOUT_MS)
    expect(page.locator("#address-notice")).to_contain_text("sort=nope")
    expect_order(page, a, b, d, c)
    expect_address(page, q=tag)


def test_live_rows_keep_the_chosen_order(app, new_tab):
    """A pushed alert takes its place in the order picked (here: by notifications, most first)."""
    tag = unique("BoardPush")
    once, twice = f"{tag}Once", f"{tag}Twice"
    again = am_alert(twice)  # the older of the two: younger first while notified as often
    post_alerts(app, notification(again, am_alert(once)))
    page = new_tab().open_dashboard(app)
    search(page, tag)
    page.locator("#sort-notified button").click()
    expect(page.locator("#sort-notified")).to_have_attribute("aria-sort", "descending")
    expect_order(page, once, twice)
    post_alerts(app, notification(again))
    expect_order(page, twice, once)


def no_horizontal_overflow(page: Page) -> None:
    widths = page.evaluate("[document.scrollingElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], widths


def inside_viewport(page: Page, locator: Locator) -> None:
    box = locator.bounding_box()
    size = page.viewport_size
    assert box is not None and size is not None
    assert box["x"] >= 0 and box["x"] + box["width"] <= size["width"], (box, size)
    assert box["y"] >= 0 and box["y"] + box["height"] <= size["height"], (box, size)


def test_frame_on_a_phone_and_a_wide_screen_and_the_theme(app, new_tab):
    username, password = unique("phone"), "phone-password-1"
    app.add_user(username, password)
    tag = unique("Phone")
    post_alerts(
        app, notification(am_alert(f"{tag}Row", severity="critical", instance="a-very-long-instance-name:9100"))
    )
    # The system prefers dark: that is the default theme.
    tab = new_tab(context={"viewport": {"width": 390, "height": 844}, "color_scheme": "dark"})
    tab.log_in_as(app, username, password)
    page = tab.page
    page.goto(app.url + "/")
    expect(page.locator("#live-flag")).to_have_text("live", timeout=LOAD_TIMEOUT_MS)
    search(page, tag)
    expect(page.locator(".alert-row")).to_have_count(1)
    expect(page.locator("html")).to_have_class(re.compile(r"\bdark\b"))

    # Phone: the essential columns, the links behind the menu button, nothing wider than the screen.
    for visible in ("#nav-menu", "#sort-status", "#sort-severity", "#sort-alertname", "#sort-age"):
        expect(page.locator(visible)).to_be_visible()
    for hidden in ("#nav-alerts", "#logout", "#sort-instance", "#sort-job", "#sort-summary", "#sort-notified"):
        expect(page.locator(hidden)).to_be_hidden()
    no_horizontal_overflow(page)
    page.locator("#nav-menu").click()
    for item in ("#menu-nav-alerts", "#menu-nav-terminal", "#menu-logout"):
        expect(page.locator(item)).to_be_visible()
        inside_viewport(page, page.locator(item))
    expect(page.locator("#menu-nav-users")).to_have_count(0)  # not an admin
    page.keyboard.press("Escape")

    # 1,000 px: still the menu, nothing off-screen.
    page.set_viewport_size({"width": 1000, "height": 800})
    expect(page.locator("#nav-menu")).to_be_visible()
    expect(page.locator("#sort-instance")).to_be_visible()
    no_horizontal_overflow(page)
    inside_viewport(page, page.locator("#theme-toggle"))

    # Wide: the links and Log out in the bar, every column, the board across the whole width.
    page.set_viewport_size({"width": 1600, "height": 1000})
    expect(page.locator("#nav-menu")).to_be_hidden()
    for visible in ("#nav-alerts", "#nav-terminal", "#logout", "#sort-job", "#sort-notified"):
        expect(page.locator(visible)).to_be_visible()
    inside_viewport(page, page.locator("#logout"))
    board = page.locator("#board").bounding_box()
    assert board is not None and board["width"] > 1500, board
    no_horizontal_overflow(page)

    # The theme: light, kept across a reload; System follows the (dark) preference again.
    page.locator("#theme-toggle").click()
    page.get_by_role("menuitem", name="Light").click()
    expect(page.locator("html")).to_have_class(re.compile(r"\blight\b"))
    page.reload()
    expect(page.locator("#live-flag")).to_have_text("live", timeout=LOAD_TIMEOUT_MS)
    expect(page.locator("html")).to_have_class(re.compile(r"\blight\b"))
    page.locator("#theme-toggle").click()
    page.get_by_role("menuitem", name="System").click()
    expect(page.locator("html")).to_have_class(re.compile(r"\bdark\b"))

    # Log out from the phone's menu.
    page.set_viewport_size({"width": 390, "height": 844})
    page.locator("#nav-menu").click()
    page.locator("#menu-logout").click()
    expect(page).to_have_url(re.compile(r"/login"), timeout=LOAD_TIMEOUT_MS)
