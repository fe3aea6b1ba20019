"""The alert page's Labels and Annotations: a bounded page of each, with Previous / Next and a link
to the full alert as JSON (GET /api/alerts/{id}, the login cookie authenticates it). The state is
in labels_state.py.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from remediation_app.components.callouts import message
from remediation_app.pages.alerts.labels_state import AlertLabelsState


def _value(kv: Any) -> rx.Component:
    return rx.table.cell(
        rx.text(kv[1], white_space="pre-wrap", word_break="break-word", class_name="kv-value"),
        rx.cond(
            kv[2] != "",
            rx.text(
                "… cut: ",
                kv[2],
                " (see Full alert as JSON)",
                size="1",
                color_scheme="gray",
                class_name="kv-cut",
            ),
        ),
    )


def _kv_table(rows: rx.Var, id_: str) -> rx.Component:
    return rx.table.root(
        rx.table.body(
            rx.foreach(
                rows,
                lambda kv: rx.table.row(
                    rx.table.row_header_cell(rx.code(kv[0], word_break="break-all"), width="14em"),
                    _value(kv),
                ),
            ),
        ),
        id=id_,
        size="1",
        width="100%",
    )


def _pager(kind: str) -> rx.Component:
    s = AlertLabelsState
    page: rx.Var[int] = getattr(s, f"{kind}_page")
    pages: rx.Var[int] = getattr(s, f"{kind}_pages")
    return rx.cond(
        pages > 1,
        rx.hstack(
            rx.button(
                "Previous",
                on_click=s.turn_page(kind, -1),
                disabled=page == 0,
                variant="soft",
                size="1",
                id=f"{kind}-prev-page",
            ),
            rx.text(f"Page {page + 1} of {pages}", size="2", id=f"{kind}-page"),
            rx.button(
                "Next",
                on_click=s.turn_page(kind, 1),
                disabled=page + 1 >= pages,
                variant="soft",
                size="1",
                id=f"{kind}-next-page",
            ),
            align="center",
            spacing="3",
        ),
    )


def pairs_section(title: str, kind: str, alert_id: rx.Var[str]) -> rx.Component:
    """Labels or annotations (`kind`): the count shown, one page of the table, the pager."""
    s = AlertLabelsState
    return rx.vstack(
        rx.hstack(
            rx.heading(title, size="4"),
            rx.text(getattr(s, f"{kind}_showing"), size="2", color_scheme="gray", id=f"{kind}-showing"),
            rx.link(
                "Full alert as JSON",
                href="/api/alerts/" + alert_id,
                is_external=True,
                size="2",
                id=f"{kind}-json-link",
            ),
            align="baseline",
            spacing="4",
        ),
        message(s.error, "red", size="1"),
        _kv_table(getattr(s, kind), kind),
        _pager(kind),
        width="100%",
        spacing="2",
        margin_top="1.25em",
    )
