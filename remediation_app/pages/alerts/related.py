"""The alert page's "Related alerts and history" (state in related_state.py): the alerts firing now at
the same place, each linked to its page, and the other firings of this alert on this instance (when,
how long, flapping). Alert text is shown as text.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from remediation_app.components.badges import severity_badge, status_badge
from remediation_app.components.panels import section
from remediation_app.pages.alerts.related_state import AlertRelatedState as S


def _related(row: Any) -> rx.Component:
    return rx.hstack(
        severity_badge(row.severity),
        rx.link(row.alertname, href="/alerts/" + row.id, size="2", weight="bold", class_name="related-link"),
        rx.text("shares ", row.shared, size="1", color_scheme="gray"),
        rx.text("since ", rx.moment(row.starts_at, from_now=True), size="1", color_scheme="gray"),
        rx.text(row.summary, size="1", word_break="break-word", class_name="related-summary"),
        class_name="related-alert",
        custom_attrs={"data-id": row.id},
        align="center",
        spacing="2",
        wrap="wrap",
        width="100%",
    )


def _firing(row: Any) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.link(rx.moment(row.starts_at, format="YYYY-MM-DD HH:mm"), href="/alerts/" + row.id, size="2")),
        rx.table.cell(rx.cond(row.lasted != "", rx.text(row.lasted, size="2"), status_badge(row.status))),
        class_name="history-row",
        custom_attrs={"data-id": row.id},
    )


def related_section() -> rx.Component:
    return section(
        "Related alerts and history",
        rx.text("Firing now at the same place", weight="bold", size="2"),
        rx.cond(
            S.related.length() > 0,  # type: ignore[attr-defined]
            rx.vstack(rx.foreach(S.related, _related), spacing="1", width="100%", id="related-alerts"),
            rx.text("No other alert fires at the same place.", size="2", color_scheme="gray", id="no-related"),
        ),
        rx.cond(S.related_note != "", rx.text(S.related_note, size="1", color_scheme="gray", id="related-note")),
        rx.hstack(
            rx.text("History", weight="bold", size="2"),
            rx.cond(S.flapping, rx.badge("flapping", color_scheme="orange", id="flapping")),
            align="center",
            spacing="2",
            margin_top="0.5em",
        ),
        rx.text(S.history, size="2", id="history-summary"),
        rx.cond(
            S.firings.length() > 0,  # type: ignore[attr-defined]
            rx.table.root(
                rx.table.header(
                    rx.table.row(rx.table.column_header_cell("Started"), rx.table.column_header_cell("Lasted"))
                ),
                rx.table.body(rx.foreach(S.firings, _firing)),
                size="1",
                id="history",
            ),
        ),
        id="related-section",
    )
