"""A table with a header row and one row per item of a list var (the shape every list page uses),
and the small controls its rows hold."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import reflex as rx


def data_table(
    headers: list[str], items: Any, row: Callable[[Any], rx.Component], *, body_id: str, **props: Any
) -> rx.Component:
    """`row(item)` renders one item; the body's id lets tests find the rows."""
    return rx.table.root(
        rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in headers])),
        rx.table.body(rx.foreach(items, row), id=body_id),
        width="100%",
        variant="surface",
        **props,
    )


def row_button(label: Any, on_click: Any = None, *, class_name: str, **props: Any) -> rx.Component:
    """A row's small button (`class_name` finds it in the row)."""
    return rx.button(label, on_click=on_click, size="1", variant="soft", class_name=class_name, **props)


def row_actions(*controls: rx.Component) -> rx.Component:
    return rx.hstack(*controls, spacing="2")


def time_or_never(value: Any) -> rx.Component:
    """A stored time (ISO text) as "YYYY-MM-DD HH:mm", or "never" when it is empty."""
    return rx.cond(value != "", rx.moment(value, format="YYYY-MM-DD HH:mm"), rx.text("never", color_scheme="gray"))
