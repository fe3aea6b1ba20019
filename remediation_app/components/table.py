"""A table with a header row and one row per item of a list var (the shape every list page uses)."""

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
