"""The reliability page (/reliability, any logged-in user): learning from outcomes. In all, then per
rule, per alertname and per LLM provider: how often the analyses were judged right and how often the
recorded fixes held (verified, of those verified or failed), as a small bar chart of the most
recorded groups (recharts) and a table of all of them. The state is reliability_state.py.

Names come from alerts and rules (untrusted): React renders them as text."""

from __future__ import annotations

from typing import Any

import reflex as rx

from remediation_app.components.callouts import message
from remediation_app.components.panels import section
from remediation_app.components.table import data_table
from remediation_app.pages.page import page
from remediation_app.pages.reliability.reliability_state import CHART_ROWS
from remediation_app.pages.reliability.reliability_state import ReliabilityState as S

HEADERS = [
    "",
    "Outcomes",
    "Right",
    "Partly",
    "Wrong",
    "Judged right",
    "Verified",
    "Failed",
    "Unverified",
    "Pending",
    "Fixes held",
]
RIGHT_COLOR, HELD_COLOR = "var(--violet-9)", "var(--green-9)"


def _row(row: Any) -> rx.Component:
    cells = (
        "outcomes",
        "right",
        "partly",
        "wrong",
        "right_rate",
        "verified",
        "failed",
        "unverified",
        "pending",
        "held_rate",
    )
    return rx.table.row(
        rx.table.cell(rx.text(row["key"], word_break="break-word"), class_name="reliability-key"),
        *[rx.table.cell(row[name], class_name=f"reliability-{name}") for name in cells],
        class_name="reliability-row",
    )


def _chart(rows: rx.Var, id: str) -> rx.Component:
    return rx.box(
        rx.recharts.bar_chart(
            rx.recharts.cartesian_grid(stroke_dasharray="3 3", vertical=False),
            rx.recharts.x_axis(data_key="key", interval=0, tick={"fontSize": 11}),
            rx.recharts.y_axis(domain=[0, 100], unit="%", width=48),
            rx.recharts.graphing_tooltip(is_animation_active=False),
            rx.recharts.legend(),
            rx.recharts.bar(
                data_key="right_pct", name="analyses judged right (%)", fill=RIGHT_COLOR, is_animation_active=False
            ),
            rx.recharts.bar(data_key="held_pct", name="fixes held (%)", fill=HELD_COLOR, is_animation_active=False),
            data=rows,
            width="100%",
            height="100%",
        ),
        height="16em",
        width="100%",
        id=id,
    )


def _dimension(title: str, name: str) -> rx.Component:
    rows: rx.Var = getattr(S, name)
    return section(
        title,
        rx.cond(
            rows.length() > 0,  # type: ignore[attr-defined]
            rx.fragment(
                _chart(rows[:CHART_ROWS], f"chart-{name}"),
                rx.box(
                    data_table(HEADERS, rows, _row, body_id=f"table-{name}", size="1"), overflow_x="auto", width="100%"
                ),
            ),
            rx.text("No outcome recorded yet.", size="2", color_scheme="gray"),
        ),
    )


def _total() -> rx.Component:
    t = S.total
    return rx.card(
        rx.hstack(
            rx.text(rx.text.strong(t["outcomes"]), " outcomes recorded", size="2"),
            rx.text("analyses judged right: ", rx.text.strong(t["right_rate"]), size="2", id="total-right-rate"),
            rx.text(
                "fixes held: ",
                rx.text.strong(t["held_rate"]),
                " (",
                t["verified"],
                " verified, ",
                t["failed"],
                " failed)",
                size="2",
                id="total-held-rate",
            ),
            rx.text(
                t["unverified"], " unverified, ", t["pending"], " waiting for a verdict", size="2", color_scheme="gray"
            ),
            spacing="5",
            wrap="wrap",
        ),
        width="100%",
        id="reliability-total",
    )


@page("/reliability", "Reliability", role="user", on_load=S.load)
def reliability_page() -> tuple[rx.Component, ...]:
    return (
        message(S.error, "red"),
        rx.hstack(
            rx.text(
                "From the outcomes people record on alert pages: was the analysis right, and did the fix hold "
                "(the engine checks each fix against the alert's later notifications).",
                size="2",
                color_scheme="gray",
            ),
            rx.button("Refresh", on_click=S.load, size="1", variant="soft", id="reliability-refresh"),
            align="center",
            justify="between",
            width="100%",
        ),
        rx.cond(S.total.contains("outcomes"), _total()),  # type: ignore[attr-defined]
        _dimension("Per rule", "by_rule"),
        _dimension("Per alertname", "by_alertname"),
        _dimension("Per LLM provider", "by_provider"),
    )
