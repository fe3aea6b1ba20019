"""The dashboard (/, any logged-in user): the board (counts, filters, the live alert list with its
sortable columns and pages; filters in the address; j/k/Enter and `/` on the keyboard), and the LLM
spend with the daily budget. The state is in dashboard_state.py, the table and counts in
dashboard_table.py."""

from __future__ import annotations

import reflex as rx

from remediation_app.components.board import list_keys, url_query
from remediation_app.components.callouts import message
from remediation_app.components.connection import connection_badge, stale_when_disconnected
from remediation_app.components.pager import filter_input, pager
from remediation_app.pages.alerts.dashboard_state import ANY, FILTERS, AlertsState
from remediation_app.pages.alerts.dashboard_table import alert_table, counts_bar
from remediation_app.pages.alerts.dashboard_url import ACTIONS
from remediation_app.pages.alerts.proposals import waiting_badge
from remediation_app.pages.page import page
from remediation_app.services.alerts.filters import AM_STATES, SEVERITY_BUCKETS, STATUSES
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
    return rx.flex(
        _select("status", "Status", list(STATUSES)),
        _select("severity", "Severity", list(SEVERITY_BUCKETS)),
        _select("am", "Alertmanager", list(AM_STATES)),
        _select("action", "Action", list(ACTIONS)),
        _select("analysis", "Analysis", list(ANALYSIS_FILTERS)),
        filter_input(
            AlertsState,
            "query",
            "Search (/)",
            id="filter-q",
            max_length=FILTERS["query"],
            placeholder="alertname, instance or summary",
            width="16em",
        ),
        rx.vstack(
            filter_input(
                AlertsState,
                "labels",
                "Labels",
                id="filter-labels",
                max_length=FILTERS["labels"],
                placeholder="team=storage, env!~dev.*",
                width="16em",
            ),
            message(AlertsState.label_error, "red", size="1", id="label-error"),
            spacing="1",
        ),
        rx.button("Clear", on_click=AlertsState.clear_filters, variant="ghost", size="1", id="clear-filters"),
        rx.spacer(),
        connection_badge(AlertsState.live, id="live-flag"),
        align="end",
        spacing="3",
        wrap="wrap",
        width="100%",
        margin_bottom="0.75em",
    )


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


@page("/", "Alerts", role="user", on_load=AlertsState.watch, title_var=AlertsState.tab_title, wide=True)
def dashboard() -> tuple[rx.Component, ...]:
    return (
        waiting_badge(),  # proposed commands waiting for a person (pages/alerts/proposals.py)
        spend_bar(),
        filters(),
        message(AlertsState.notice, "orange", id="address-notice", margin_bottom="0.75em"),
        message(AlertsState.error, "red", id="board-error", margin_bottom="0.75em"),
        stale_when_disconnected(counts_bar(), alert_table(), pager(AlertsState), id="board"),
        url_query(query=AlertsState.url_query, version=AlertsState.url_version),
        list_keys(rows="#alert-rows tr.alert-row", search="#filter-q"),
    )
