"""One pager for every paged list (alerts, audit log, terminal sessions): its state and its buttons.

`PagerState` is a state mixin holding one page of `rows` out of `total` (never the whole table),
PAGE_SIZE rows a page. The page's state reads a page with `fetch_page` (outside the state lock if it
likes) and shows it with `_show_page`; it says what turning a page does (`_page_turned`) and what an
empty list reads (`_nothing`). `FilteredPagerState` adds filters: str vars of the page's state, set
by `set_filter(name, value)`, which starts again at the first page. An admin page's state guards the
pager's handlers like its own (pages/admin/kit_state.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import reflex as rx
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.db import TRANSIENT_DB_ERRORS, async_session
from remediation_app.state import UNAVAILABLE

PAGE_SIZE = 50
# fetch(session, limit, offset) -> (that slice's rows, the total that match)
Fetch = Callable[[AsyncSession, int, int], Awaitable[tuple[list[dict[str, str]], int]]]


def page_count(total: int, page_size: int) -> int:
    return max(1, -(-total // page_size))


def showing(*, page: int, page_size: int, shown: int, total: int, nothing: str) -> str:
    """ "51-76 of 76", or `nothing` when nothing matches."""
    if not total:
        return nothing
    first = page * page_size + 1
    return f"{first}-{first + shown - 1} of {total}"


@dataclass(frozen=True)
class FetchedPage:
    rows: list[dict[str, str]]
    total: int
    page: int


async def fetch_page(fetch: Fetch, page: int) -> FetchedPage | None:
    """Page `page` of a list, or the last page when that one emptied meanwhile (rows went away);
    None when the database is unavailable."""
    try:
        async with async_session() as session:
            rows, total = await fetch(session, PAGE_SIZE, page * PAGE_SIZE)
            if not rows and total and page:
                page = (total - 1) // PAGE_SIZE
                rows, total = await fetch(session, PAGE_SIZE, page * PAGE_SIZE)
    except TRANSIENT_DB_ERRORS:
        return None
    return FetchedPage(rows, total, page)


class PagerState(rx.State, mixin=True):
    rows: list[dict[str, str]] = []
    total: int = 0
    page: int = 0
    error: str = ""

    @rx.var
    def page_count(self) -> int:
        return page_count(self.total, PAGE_SIZE)

    @rx.var
    def showing(self) -> str:
        return showing(
            page=self.page, page_size=PAGE_SIZE, shown=len(self.rows), total=self.total, nothing=self._nothing()
        )

    def _nothing(self) -> str:
        """What the pager says when nothing matches."""
        return "Nothing yet."

    def _show_page(self, fetched: FetchedPage | None, *, unavailable: str = UNAVAILABLE) -> None:
        """Show what fetch_page returned; `unavailable` says why nothing is shown when it was None."""
        if fetched is None:
            self.rows, self.total, self.error = [], 0, unavailable
        else:
            self.rows, self.total, self.page, self.error = fetched.rows, fetched.total, fetched.page, ""

    async def _page_turned(self, moved: bool) -> Any:
        """Show the page now in `page` (`moved`: whether it changed); returns what the handler returns."""
        raise NotImplementedError

    @rx.event
    async def next_page(self):
        moved = self.page + 1 < self.page_count
        if moved:
            self.page += 1
        return await self._page_turned(moved)

    @rx.event
    async def previous_page(self):
        moved = self.page > 0
        if moved:
            self.page -= 1
        return await self._page_turned(moved)


class FilteredPagerState(PagerState, mixin=True):
    def _filters(self) -> dict[str, int]:
        """The state's filter vars by name, with the longest value each keeps."""
        raise NotImplementedError

    @rx.event
    async def set_filter(self, name: str, value: str):
        """Filter by one of `_filters` (another name changes nothing), from the first page."""
        limit = self._filters().get(str(name))
        if limit is None:
            return None
        setattr(self, str(name), str(value)[:limit])
        self.page = 0
        return await self._page_turned(True)


def filter_input(state: Any, name: str, label: str, *, id: str, max_length: int, **props: Any) -> rx.Component:
    """A text filter of a FilteredPagerState (its var `name`), applied once typing pauses."""
    return rx.vstack(
        rx.text(label, size="1", color_scheme="gray"),
        rx.debounce_input(
            rx.input(
                value=getattr(state, name), on_change=state.set_filter(name), id=id, max_length=max_length, **props
            ),
            debounce_timeout=250,
        ),
        spacing="1",
    )


def pager(state: Any, *, prefix: str = "") -> rx.Component:
    """Previous / Next for a PagerState. Element ids: `<prefix>showing`, `<prefix>prev-page`,
    `<prefix>page`, `<prefix>next-page`."""
    return rx.hstack(
        rx.text(state.showing, id=f"{prefix}showing", size="2"),
        rx.spacer(),
        rx.button(
            "Previous", on_click=state.previous_page, disabled=state.page == 0, variant="soft", id=f"{prefix}prev-page"
        ),
        rx.text(f"Page {state.page + 1} of {state.page_count}", size="2", id=f"{prefix}page"),
        rx.button(
            "Next",
            on_click=state.next_page,
            disabled=state.page + 1 >= state.page_count,
            variant="soft",
            id=f"{prefix}next-page",
        ),
        align="center",
        width="100%",
        margin_top="1em",
    )
