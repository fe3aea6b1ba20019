"""The dashboard (/, any logged-in user): the live alert list with its filters and pages, and the
LLM spend with the daily budget. The state is in dashboard_state.py."""

from __future__ import annotations

import reflex as rx

from remediation_app.components.badges import action_badge, analysis_badge, severity_badge, status_badge
from remediation_app.components.callouts import message
from remediation_app.components.pager import pager
from remediation_app.components.table import data_table
from remediation_app.pages.alerts.dashboard_state import ANY, AlertsState
from remediation_app.pages.page import page
from remediation_app.services.alerts import ANALYSIS_FILTERS


def _select(items: list[str], value: rx.Var, on_change: object, id_: str, label: str) -> rx.Component:
    return rx.vstack(
        rx.text(label, size="1", color_scheme="gray"),
        rx.select(items, value=value, on_change=on_change, id=id_, size="2"),
        spacing="1",
    )


def filters() -> rx.Component:
    return rx.hstack(
        _select([ANY, "firing", "resolved"], AlertsState.status, AlertsState.set_status, "filter-status", "Status"),
        _select(
            [ANY, "critical", "warning", "info"],
            AlertsState.severity,
            AlertsState.set_severity,
            "filter-severity",
            "Severity",
        ),
        _select(
            [ANY, "auto_analyze", "manual", "ignore"],
            AlertsState.action,
            AlertsState.set_action,
            "filter-action",
            "Action",
        ),
        _select(
            [ANY, *ANALYSIS_FILTERS], AlertsState.analysis, AlertsState.set_analysis, "filter-analysis", "Analysis"
        ),
        rx.vstack(
            rx.text("Search", size="1", color_scheme="gray"),
            rx.debounce_input(
                rx.input(
                    placeholder="alertname, instance or summary",
                    value=AlertsState.query,
                    on_change=AlertsState.set_query,
                    id="filter-q",
                    width="22em",
                    max_length=200,
                ),
                debounce_timeout=250,
            ),
            spacing="1",
        ),
        rx.spacer(),
        rx.badge(
            rx.cond(AlertsState.live, "live", "connecting"),
            id="live-flag",
            color_scheme=rx.cond(AlertsState.live, "green", "gray"),
        ),
        align="end",
        spacing="4",
        width="100%",
        margin_bottom="1em",
    )


def alert_row(row: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(status_badge(row["status"])),
        rx.table.cell(severity_badge(row["severity"])),
        rx.table.cell(rx.link(row["alertname"], href="/alerts/" + row["id"], class_name="alertname")),
        rx.table.cell(rx.text(row["instance"])),
        rx.table.cell(rx.text(row["job"])),
        rx.table.cell(rx.text(row["summary"], class_name="summary", max_width="32em", trim="both")),
        rx.table.cell(action_badge(row["action"])),
        rx.table.cell(
            analysis_badge(row["analysis_status"], row["analysis_urgency"]),
            class_name="analysis-cell",
            custom_attrs={"data-analysis": row["analysis_status"]},
        ),
        rx.table.cell(rx.moment(row["starts_at"], from_now=True, interval=30_000), white_space="nowrap"),
        rx.table.cell(rx.text(row["times_notified"])),
        class_name="alert-row",
        id="alert-row-" + row["id"],
    )


def alert_table() -> rx.Component:
    headers = ["Status", "Severity", "Alert", "Instance", "Job", "Summary", "Action", "Analysis", "Age", "Notified"]
    return data_table(headers, AlertsState.rows, alert_row, body_id="alert-rows")


def spend_bar() -> rx.Component:
    s = AlertsState.spend
    return rx.cond(
        s.contains("today_usd"),  # type: ignore[attr-defined]
        rx.vstack(
            rx.hstack(
                rx.text("LLM spend", weight="bold", size="2"),
                rx.text(
                    "today ",
                    rx.text.span(s["today_usd"], id="spend-today"),
                    " (",
                    rx.text.span(s["today_tokens"], id="spend-today-tokens"),
                    " tokens, ",
                    rx.text.span(s["analyses_today"], id="analyses-today"),
                    " analyses)",
                    size="2",
                ),
                rx.text(
                    "this month ",
                    rx.text.span(s["month_usd"], id="spend-month"),
                    " (",
                    rx.text.span(s["month_tokens"], id="spend-month-tokens"),
                    " tokens)",
                    size="2",
                ),
                rx.cond(s["budget"] != "", rx.text("daily budget ", s["budget"], size="2", color_scheme="gray")),
                spacing="4",
                align="center",
                id="llm-spend",
            ),
            rx.cond(
                AlertsState.budget_reached,
                rx.callout(
                    f"Daily LLM budget reached ({s['today_usd']} of {s['budget']}): automatic analysis is paused; "
                    "users can still ask for analyses.",
                    color_scheme="orange",
                    id="budget-reached",
                    width="100%",
                ),
            ),
            width="100%",
            spacing="2",
            margin_bottom="1em",
        ),
    )


@page("/", "Alerts", role="user", on_load=AlertsState.watch)
def dashboard() -> tuple[rx.Component, ...]:
    return (
        spend_bar(),
        filters(),
        message(AlertsState.error, "red", margin_bottom="1em"),
        alert_table(),
        pager(AlertsState),
    )
