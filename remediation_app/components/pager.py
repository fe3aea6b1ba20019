"""One pager for every paged list (alerts, audit log, terminal sessions): its state and its buttons.

`PagerState` is a state mixin holding one page of `rows` out of `total` (never the whole table).
The page's state says what turning a page does (`_page_turned`) and what an empty list reads
(`_nothing`); an admin page's state guards the pager's handlers like its own (pages/admin/kit_state.py).
"""

from __future__ import annotations

from typing import Any

import reflex as rx

PAGE_SIZE = 50


def page_count(total: int, page_size: int) -> int:
    return max(1, -(-total // page_size))


def showing(*, page: int, page_size: int, shown: int, total: int, nothing: str) -> str:
    """ "51-76 of 76", or `nothing` when nothing matches."""
    if not total:
        return nothing
    first = page * page_size + 1
    return f"{first}-{first + shown - 1} of {total}"


class PagerState(rx.State, mixin=True):
    rows: list[dict[str, str]] = []
    total: int = 0
    page: int = 0

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
