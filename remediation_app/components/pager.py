"""Previous / Next paging for a state with `page`, `page_count`, `showing`, `previous_page`, `next_page`."""

from typing import Any

import reflex as rx


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
