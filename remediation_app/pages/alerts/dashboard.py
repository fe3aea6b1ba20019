"""The dashboard (/, any logged-in user): the live alert list with its filters and pages, and the
LLM spend with the daily budget. The state is in dashboard_state.py."""

from __future__ import annotations

import reflex as rx

from remediation_app.components.badges import action_badge, analysis_badge, severity_badge, status_badge
from remediation_app.components.callouts import message
from remediation_app.components.pager import filter_input, pager
from remediation_app.components.table import data_table
from remediation_app.pages.alerts.dashboard_state import ANY, FILTERS, AlertsState
from remediation_app.pages.page import page
from remediation_app.services.alerts.store import ANALYSIS_FILTERS


def _select(name: str, label: str, items: list[str]) -> rx.Component:
    """A filter (AlertsState's var `name`) picked from `items`; element id `filter-<name>`."""
    return rx.vstack(
        rx.text(label, size="1", color_scheme="gray"),
        rx.select(
            [ANY, *items], value=getattr(AlertsState, name), on_change=AlertsState.set_filter(name), id=f"filter-{name}"
        ),
        spacing="1",
    )


def filters() -> rx.Component:
    return rx.hstack(
        _select("status", "Status", ["firing", "resolved"]),
        _select("severity", "Severity", ["critical", "warning", "info"]),
        _select("action", "Action", ["auto_analyze", "manual", "ignore"]),
        _select("analysis", "Analysis", list(ANALYSIS_FILTERS)),
        filter_input(
            AlertsState,
            "query",
            "Search",
            id="filter-q",
            max_length=FILTERS["query"],
            placeholder="alertname, instance or summary",
            width="22em",
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


def _spent(period: str, label: str, *more: rx.Component | str) -> rx.Component:
    """ "today $0.12 (3,400 tokens, ...)": the spend of `period` (today, month)."""
    s = AlertsState.spend
    usd = rx.text.span(s[f"{period}_usd"], id=f"spend-{period}")
    tokens = rx.text.span(s[f"{period}_tokens"], id=f"spend-{period}-tokens")
    return rx.text(label, " ", usd, " (", tokens, " tokens", *more, ")", size="2")


def _budget_reached() -> rx.Component:
    s = AlertsState.spend
    return rx.cond(
        AlertsState.budget_reached,
        rx.callout(
            f"Daily LLM budget reached ({s['today_usd']} of {s['budget']}): automatic analysis is paused; "
            "users can still ask for analyses.",
            color_scheme="orange",
            id="budget-reached",
            width="100%",
        ),
    )


def spend_bar() -> rx.Component:
    s = AlertsState.spend
    analyses = rx.text.span(s["analyses_today"], id="analyses-today")
    spend = rx.hstack(
        rx.text("LLM spend", weight="bold", size="2"),
        _spent("today", "today", ", ", analyses, " analyses"),
        _spent("month", "this month"),
        rx.cond(s["budget"] != "", rx.text("daily budget ", s["budget"], size="2", color_scheme="gray")),
        spacing="4",
        align="center",
        id="llm-spend",
    )
    return rx.cond(
        s.contains("today_usd"),  # type: ignore[attr-defined]
        rx.vstack(spend, _budget_reached(), width="100%", spacing="2", margin_bottom="1em"),
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
