"""Previous / Next paging for a state with `page`, `page_count`, `showing`, `previous_page`, `next_page`."""

from typing import Any

import reflex as rx


def page_count(total: int, page_size: int) -> int:
    return max(1, -(-total // page_size))


def showing(*, page: int, page_size: int, shown: int, total: int, nothing: str) -> str:
    """ "51-76 of 76", or `nothing` when nothing matches."""
    if not total:
        return nothing
    first = page * page_size + 1
    return f"{first}-{first + shown - 1} of {total}"


def pager(state: Any, *, prefix: str = "") -> rx.Component:
    """Element ids: `<prefix>showing`, `<prefix>prev-page`, `<prefix>page`, `<prefix>next-page`."""
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
