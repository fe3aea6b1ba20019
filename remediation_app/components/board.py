"""A list page's browser-side helpers (board.jsx): the address that follows its filters, keyboard
navigation through its rows, and a sortable column header.

- `url_query(query=..., version=...)`: puts `query` ("?a=b&..." or "" for none) in the address bar
  with history.replaceState (no reload, no history step; Reflex sends the live address with every
  event) whenever `query` or `version` changes after the page mounted. The page's state bumps
  `version` when it has read the address (so a normalised address is written back even when the
  query is unchanged); at mount nothing is written, the address is still the one to read.
- `list_keys(rows=..., search=...)`: j / k select the next / previous row (rows found by the CSS
  selector `rows`, each with an id and a link), Enter opens the selected row's first link, `/`
  focuses the `search` field and Escape leaves it; never while typing in a field. The selected row
  carries data-selected="true" and aria-selected="true"; the selection follows the row's id through
  live updates. Attached once per page (a document listener removed when the page unmounts).
- `sortable_header(label, key, sort=..., on_sort=...)`: a column header that sorts by `key` when
  clicked, with an arrow and aria-sort from `sort` (the state's sort var: "key" ascending, "-key"
  descending).
"""

from __future__ import annotations

from typing import Any

import reflex as rx

_JSX = rx.asset("board.jsx", shared=True)


class UrlQuery(rx.Component):
    library = f"$/public{_JSX}"
    tag = "UrlQuery"

    query: rx.Var[str]
    version: rx.Var[int]


class ListKeys(rx.Component):
    library = f"$/public{_JSX}"
    tag = "ListKeys"

    rows: rx.Var[str]
    search: rx.Var[str]


url_query = UrlQuery.create
list_keys = ListKeys.create


def sortable_header(label: str, key: str, *, sort: rx.Var[str], on_sort: Any, **props: Any) -> rx.Component:
    """A header cell that sorts by `key` (`on_sort(key)` is called on click)."""
    ascending, descending = sort == key, sort == f"-{key}"
    arrow = rx.cond(ascending, " ▲", rx.cond(descending, " ▼", ""))
    return rx.table.column_header_cell(
        rx.el.button(
            label,
            rx.el.span(arrow, custom_attrs={"aria-hidden": "true"}),
            on_click=on_sort(key),
            type="button",
            class_name="sort-button",
            title=f"Sort by {label.lower()}",
            style={
                "all": "unset",
                "cursor": "pointer",
                "white_space": "nowrap",
                "&:focus-visible": {"outline": "2px solid var(--accent-8)", "outline_offset": "2px"},
            },
        ),
        custom_attrs={"aria-sort": rx.cond(ascending, "ascending", rx.cond(descending, "descending", "none"))},
        id=f"sort-{key}",
        **props,
    )
