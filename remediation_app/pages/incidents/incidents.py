"""The incidents (/incidents, any logged-in user): the alerts Alertmanager grouped together, a dense
live list with a status filter and pages. The state is in incidents_state.py."""

from __future__ import annotations

import reflex as rx

from remediation_app.components.badges import analysis_badge, severity_badge, status_badge
from remediation_app.components.callouts import message
from remediation_app.components.pager import pager
from remediation_app.components.table import data_table
from remediation_app.pages.incidents.incidents_state import ANY, IncidentsState
from remediation_app.pages.page import page


def storm_badge(value: rx.Var) -> rx.Component:
    """ "storm": analysed once as a group (storm control)."""
    return rx.cond(
        value != "",
        rx.badge("storm", color_scheme="purple", variant="soft", class_name="storm", title="analysed once as a group"),
    )


def _filters() -> rx.Component:
    return rx.hstack(
        rx.vstack(
            rx.text("Status", size="1", color_scheme="gray"),
            rx.select(
                [ANY, "open", "resolved"],
                value=IncidentsState.status,
                on_change=IncidentsState.set_filter("status"),
                id="incident-filter-status",
            ),
            spacing="1",
        ),
        rx.spacer(),
        rx.badge(
            rx.cond(IncidentsState.live, "live", "connecting"),
            id="incidents-live",
            color_scheme=rx.cond(IncidentsState.live, "green", "gray"),
        ),
        align="end",
        width="100%",
        margin_bottom="1em",
    )


def _row(row: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(status_badge(row["status"])),
        rx.table.cell(severity_badge(row["severity"])),
        rx.table.cell(
            rx.hstack(
                rx.link(row["title"], href="/incidents/" + row["id"], class_name="incident-title"),
                storm_badge(row["storm"]),
                spacing="2",
                align="center",
            )
        ),
        rx.table.cell(
            rx.text(row["firing_count"], " / ", row["alert_count"], class_name="incident-alerts"),
            white_space="nowrap",
        ),
        rx.table.cell(
            analysis_badge(row["analysis_status"], row["analysis_urgency"]),
            custom_attrs={"data-analysis": row["analysis_status"]},
        ),
        rx.table.cell(rx.moment(row["opened_at"], from_now=True, interval=30_000), white_space="nowrap"),
        rx.table.cell(rx.moment(row["last_notified_at"], from_now=True, interval=30_000), white_space="nowrap"),
        class_name="incident-row",
        id="incident-row-" + row["id"],
    )


@page("/incidents", "Incidents", role="user", on_load=IncidentsState.watch)
def incidents_page() -> tuple[rx.Component, ...]:
    headers = ["Status", "Severity", "Incident", "Firing / alerts", "Analysis", "Opened", "Last notified"]
    return (
        _filters(),
        message(IncidentsState.error, "red", margin_bottom="1em"),
        rx.box(data_table(headers, IncidentsState.rows, _row, body_id="incident-rows", size="1"), overflow_x="auto"),
        pager(IncidentsState),
    )
