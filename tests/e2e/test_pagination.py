"""Server-side pagination: 50 rows a page, the pager moves through the rest, state stays bounded."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import post_alerts, unique
from tests.support.browser import PUSH_TIMEOUT_MS, search
from tests.support.payloads import am_alert, notification

pytestmark = pytest.mark.e2e

PAGE_SIZE = 50
MAX_STATE_ROWS = 100


def shown(page: Page) -> list[str]:
    return page.locator(".alert-row a.alertname").all_inner_texts()


def expect_page(page: Page, number: int, of: int, showing: str, rows: int) -> None:
    expect(page.get_by_text(f"Page {number} of {of}", exact=True)).to_be_visible()
    expect(page.locator("#showing")).to_have_text(showing)
    expect(page.locator(".alert-row")).to_have_count(rows)


def test_pager_walks_through_more_than_one_page(app, new_tab):
    tag = unique("Page")
    # One payload: 75 alerts "<tag>A..." and 55 "<tag>B...", all firing.
    names_a = [f"{tag}A{i:03d}" for i in range(75)]
    names_b = [f"{tag}B{i:03d}" for i in range(55)]
    post_alerts(app, notification(*(am_alert(n) for n in names_a + names_b)))

    tab = new_tab()
    page = tab.open_dashboard(app)
    search(page, f"{tag}A")
    expect_page(page, 1, 2, "1-50 of 75", PAGE_SIZE)
    expect(page.locator("#prev-page")).to_be_disabled()
    first = shown(page)

    page.locator("#next-page").click()
    expect_page(page, 2, 2, "51-75 of 75", 25)
    expect(page.locator("#next-page")).to_be_disabled()
    second = shown(page)
    assert not set(first) & set(second)
    assert sorted(first + second) == names_a

    # A push while on page 2 refreshes page 2, it does not jump back to page 1.
    late = f"{tag}A999"
    post_alerts(app, notification(am_alert(late)))
    expect(page.locator("#showing")).to_have_text("51-76 of 76", timeout=PUSH_TIMEOUT_MS)
    expect_page(page, 2, 2, "51-76 of 76", 26)

    page.locator("#prev-page").click()
    expect_page(page, 1, 2, "1-50 of 76", PAGE_SIZE)
    assert shown(page)[0] == late, "newest first"

    # All 131 of this test: three pages; a new search starts again at page 1.
    page.locator("#next-page").click()
    expect_page(page, 2, 2, "51-76 of 76", 26)
    search(page, tag)
    expect_page(page, 1, 3, "1-50 of 131", PAGE_SIZE)
    page.locator("#next-page").click()
    page.locator("#next-page").click()
    expect_page(page, 3, 3, "101-131 of 131", 31)

    # The browser's state only ever received one page of rows.
    assert 0 < tab.max_rows_pushed <= PAGE_SIZE <= MAX_STATE_ROWS, tab.max_rows_pushed
