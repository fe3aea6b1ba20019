"""The board's table (dense rows, sortable headers, columns that give way on narrow screens) and its
counts by status and severity. The state is dashboard_state.py."""

from __future__ import annotations

from typing import Any

import reflex as rx

from remediation_app.components.badges import analysis_badge, severity_badge, status_badge
from remediation_app.components.board import sortable_header
from remediation_app.components.styles import SEVERITY_COLORS
from remediation_app.pages.alerts.dashboard_state import ANY, AlertsState
from remediation_app.services.alerts.filters import SEVERITY_BUCKETS, STATUSES

# Below MEDIUM_PX (a phone) the table keeps state, severity, alert and age; below WIDE_PX it also
# shows instance, summary and analysis; from WIDE_PX every column.
MEDIUM_PX = 640
WIDE_PX = 1100
ESSENTIAL, MEDIUM, WIDE = 0, MEDIUM_PX, WIDE_PX
# (header, sort key or "" when the column cannot be sorted, shown from this width)
COLUMNS: list[tuple[str, str, int]] = [
    ("State", "status", ESSENTIAL),
    ("Severity", "severity", ESSENTIAL),
    ("Alert", "alertname", ESSENTIAL),
    ("Instance", "instance", MEDIUM),
    ("Job", "job", WIDE),
    ("Summary", "summary", MEDIUM),
    ("Analysis", "", MEDIUM),
    ("Age", "age", ESSENTIAL),
    ("Notified", "notified", WIDE),
    ("Incident", "", WIDE),
]
SELECTED_ROW = {
    "&[data-selected='true']": {"background_color": "var(--accent-a4)", "box_shadow": "inset 3px 0 0 var(--accent-9)"}
}
# Denser than Radix's smallest table (36 px rows): one line of 28 px per alert.
DENSE_TABLE = {"&.rt-TableRoot": {"--table-cell-padding": "3px 8px", "--table-cell-min-height": "28px"}}
ELLIPSIS = {"overflow": "hidden", "text_overflow": "ellipsis", "white_space": "nowrap", "display": "block"}


def _shown_from(width: int) -> dict[str, Any]:
    """Style props hiding a cell below `width` pixels."""
    if not width:
        return {}
    return {"display": rx.breakpoints(custom={"0px": "none", f"{width}px": "table-cell"})}


def _header(label: str, key: str, width: int) -> rx.Component:
    shown = _shown_from(width)
    if not key:
        return rx.table.column_header_cell(label, **shown)
    return sortable_header(label, key, sort=AlertsState.sort, on_sort=AlertsState.sort_by, **shown)


def _am_badges(row: rx.Var) -> rx.Component:
    """Alertmanager's view of the alert, nothing when it is not known."""

    def badge(field: str, text: str, title: Any) -> rx.Component:
        return rx.cond(
            row[field] != "",
            rx.badge(text, color_scheme="gray", variant="outline", class_name=f"am-{text}", title=title),
        )

    return rx.fragment(
        badge("silenced", "silenced", "Silenced in Alertmanager"),
        badge("inhibited", "inhibited", "Inhibited in Alertmanager by another alert"),
        badge("acked_by", "acked", "Acknowledged by " + row["acked_by"]),
    )


def _cell(content: rx.Component, shown_from: int, **props: Any) -> rx.Component:
    return rx.table.cell(content, white_space="nowrap", **_shown_from(shown_from), **props)


def alert_row(row: rx.Var) -> rx.Component:
    # The summary takes the width the other columns leave (a cell of width 100% and max-width 0),
    # cut with an ellipsis; the whole text is its tooltip.
    summary = rx.text(row["summary"], class_name="summary", title=row["summary"], size="1", **ELLIPSIS)
    # On a phone the name is cut too (the link's text stays whole).
    name = rx.link(
        row["alertname"],
        href="/alerts/" + row["id"],
        class_name="alertname",
        weight="medium",
        title=row["alertname"],
        **ELLIPSIS,
        max_width=rx.breakpoints(custom={"0px": "9.5em", f"{MEDIUM_PX}px": "24em"}),
    )
    incident = rx.cond(
        row["incident_id"] != "",
        rx.link(
            "#" + row["incident_id"], href="/incidents/" + row["incident_id"], class_name="incident-link", size="1"
        ),
    )
    return rx.table.row(
        _cell(rx.hstack(status_badge(row["status"]), _am_badges(row), spacing="1"), ESSENTIAL),
        _cell(severity_badge(row["severity"]), ESSENTIAL),
        _cell(name, ESSENTIAL),
        _cell(rx.text(row["instance"], size="1"), MEDIUM),
        _cell(rx.text(row["job"], size="1"), WIDE),
        _cell(summary, MEDIUM, width="100%", max_width="0"),
        _cell(
            analysis_badge(row["analysis_status"], row["analysis_urgency"]),
            MEDIUM,
            class_name="analysis-cell",
            custom_attrs={"data-analysis": row["analysis_status"]},
        ),
        _cell(
            rx.moment(
                row["starts_at"],
                from_now_short=True,
                with_title=True,
                title_format="YYYY-MM-DD HH:mm:ss",
                interval=30_000,
            ),
            ESSENTIAL,
            class_name="age",
        ),
        _cell(rx.text(row["times_notified"], size="1"), WIDE),
        _cell(incident, WIDE),
        class_name="alert-row",
        id="alert-row-" + row["id"],
        align="center",
        custom_attrs={"data-alert-id": row["id"], "data-href": "/alerts/" + row["id"]},
        style=SELECTED_ROW,
    )


def alert_table() -> rx.Component:
    return rx.table.root(
        rx.table.header(rx.table.row(*[_header(label, key, width) for label, key, width in COLUMNS])),
        rx.table.body(rx.foreach(AlertsState.rows, alert_row), id="alert-rows"),
        size="1",
        variant="surface",
        width="100%",
        id="alert-table",
        style=DENSE_TABLE,
    )


# --- Counts ---------------------------------------------------------------------------------------


def _count(label: str, key: str, *, status: str, severity: str = "", am: str = "", color: str = "gray") -> rx.Component:
    """One count (AlertsState.counts[key]); clicking it lists what it counts. Solid while it is
    exactly the board's filter."""
    n = AlertsState.counts[key]
    current = (
        (AlertsState.status == (status or ANY))
        & (AlertsState.severity == (severity or ANY))
        & (AlertsState.am == (am or ANY))
    )
    return rx.button(
        rx.text.span(n, class_name="count-value", weight="bold"),
        " ",
        label,
        on_click=AlertsState.pick_count(status, severity, am),
        size="1",
        variant=rx.cond(current, "solid", rx.cond(n > 0, "soft", "ghost")),
        color_scheme=rx.cond(n > 0, color, "gray"),
        id=f"count-{key.replace(':', '-')}",
        class_name="count",
        title=f"List {label} alerts" if label != "all" else f"List all {status} alerts",
    )


def _status_line(status: str) -> rx.Component:
    severities = [
        _count(bucket, f"{status}:{bucket}", status=status, severity=bucket, color=SEVERITY_COLORS.get(bucket, "gray"))
        for bucket in SEVERITY_BUCKETS
    ]
    states = (
        [
            rx.separator(orientation="vertical", size="1"),
            *[
                _count(state, state, status="firing", am=state, color=color)
                for state, color in (("silenced", "gray"), ("inhibited", "gray"), ("acked", "blue"), ("active", "red"))
            ],
        ]
        if status == "firing"
        else []
    )
    return rx.hstack(
        rx.text(status.capitalize(), size="1", weight="bold", width="5.5em", color_scheme="gray"),
        _count("all", status, status=status, color="red" if status == "firing" else "green"),
        *severities,
        *states,
        spacing="1",
        align="center",
        wrap="wrap",
    )


def counts_bar() -> rx.Component:
    return rx.cond(
        AlertsState.counts.contains("firing"),  # type: ignore[attr-defined]
        rx.vstack(*[_status_line(s) for s in STATUSES], spacing="1", id="alert-counts", margin_bottom="0.75em"),
    )
