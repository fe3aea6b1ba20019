"""Debian's chromium driven by Playwright (never `playwright install`), and dashboard helpers."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterable, Iterator
from typing import Any

from playwright.sync_api import Browser, Locator, Page, Playwright, expect

CHROMIUM = "/usr/bin/chromium"
SESSION_COOKIE = "re_session"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# First load of a page: the production bundle, the websocket, hydration and the first query.
LOAD_TIMEOUT_MS = 30_000
# A pushed change must reach an open page within this time of the webhook's 200.
PUSH_TIMEOUT_MS = 1_000


def launch(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


class Tab:
    """One page in its own browser context: its own session storage, so its own Reflex client token.

    With `record_frames`, every websocket frame the server sends to the page is kept in `frames`.
    `context` holds Playwright's new_context options (viewport, color_scheme...).
    """

    def __init__(self, browser: Browser, *, record_frames: bool = False, context: dict[str, Any] | None = None) -> None:
        self.context = browser.new_context(**(context or {}))
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.logged_in = False
        self.max_rows_pushed = 0
        self.record_frames = record_frames
        self.frames: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on("websocket", self._watch_socket)

    def _watch_socket(self, ws: Any) -> None:
        ws.on("framereceived", self._frame)

    def _frame(self, frame: str | bytes) -> None:
        """Record the frame (if asked to) and the largest `rows` list the server pushed into this tab."""
        if self.record_frames:
            self.frames.append(frame if isinstance(frame, str) else frame.decode("utf-8", "replace"))
        if isinstance(frame, bytes) or "rows_rx_state_" not in frame:
            return
        with contextlib.suppress(ValueError):
            message = json.loads(frame[frame.index("[") :])
            for size in _row_list_sizes(message):
                self.max_rows_pushed = max(self.max_rows_pushed, size)

    def open_dashboard(self, server: Any) -> Page:
        """Log in (once per tab), open the dashboard and wait until its live watcher runs."""
        if not self.logged_in:
            server.login(self.context)
            self.logged_in = True
        self.page.goto(server.url + "/")
        expect(self.page.locator("#live-flag")).to_have_text("live", timeout=LOAD_TIMEOUT_MS)
        return self.page

    def log_in_as(self, server: Any, username: str, password: str) -> None:
        """Log this tab's context in (sets the session cookie) without opening a page."""
        server.login(self.context, username, password)
        self.logged_in = True

    def session_cookie(self) -> str:
        """The value of this context's HttpOnly session cookie ("" when logged out)."""
        return next((c["value"] for c in self.context.cookies() if c["name"] == SESSION_COOKIE), "")

    def mark(self) -> None:
        """Tag the loaded document: `still_same_document()` is False after any reload."""
        self.page.evaluate("window.__e2eMark = 'not reloaded'")

    def still_same_document(self) -> bool:
        return bool(self.page.evaluate("window.__e2eMark === 'not reloaded'"))

    def close(self) -> None:
        with contextlib.suppress(Exception):  # the browser may already be gone after a crash
            self.context.close()


def _row_list_sizes(node: Any) -> Iterator[int]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key.startswith("rows_rx_state_") and isinstance(value, list):
                yield len(value)
            else:
                yield from _row_list_sizes(value)
    elif isinstance(node, list):
        for item in node:
            yield from _row_list_sizes(item)


def alert_row(page: Page, alertname: str) -> Locator:
    """The dashboard row whose alertname link is exactly `alertname`."""
    return page.locator(".alert-row").filter(has=page.get_by_role("link", name=alertname, exact=True))


def expect_pushed(pages: Iterable[Page], alertname: str, since: float, budget_ms: float = PUSH_TIMEOUT_MS) -> None:
    """Every page shows the alert's row within `budget_ms` of `since` (a time.monotonic() taken
    when the webhook answered 200), whatever the order in which the pages are checked."""
    for page in pages:
        left_ms = budget_ms - (time.monotonic() - since) * 1000
        expect(alert_row(page, alertname)).to_be_visible(timeout=max(left_ms, 1))


def choose(page: Page, select_id: str, option: str) -> None:
    """Pick an option of a Radix select: open it with its trigger, then click the option."""
    page.locator(f"#{select_id}").click()
    page.get_by_role("option", name=option, exact=True).click()
    expect(page.locator(f"#{select_id}")).to_have_text(option)


def choose_in(page: Page, trigger: Locator, option: str) -> None:
    """Pick an option of a Radix select found by a locator (e.g. one per table row)."""
    trigger.click()
    page.get_by_role("option", name=option, exact=True).click()
    expect(trigger).to_have_text(option)


def search(page: Page, text: str) -> None:
    page.locator("#filter-q").fill(text)
