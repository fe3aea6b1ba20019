"""One incident (/incidents/<id>, any logged-in user): the group's header, its alerts (links to their
pages), the group analysis (storm control) and the timeline. The state is in incident_state.py."""

from __future__ import annotations

import reflex as rx

from remediation_app.components.analysis import analysis_body, analysis_header
from remediation_app.components.badges import analysis_badge, severity_badge, status_badge
from remediation_app.components.callouts import message
from remediation_app.components.panels import section
from remediation_app.components.table import data_table
from remediation_app.pages.alerts.outcome import outcome_section
from remediation_app.pages.alerts.outcome_state import OutcomeState
from remediation_app.pages.alerts.similar import similar_section
from remediation_app.pages.incidents.incident_state import IncidentPageState as S
from remediation_app.pages.incidents.incidents import storm_badge
from remediation_app.pages.page import page

KIND_COLORS = {
    "opened": "red",
    "notification": "gray",
    "analysis": "violet",
    "chat": "blue",
    "terminal": "cyan",
    "proposal": "orange",
    "silence": "amber",
    "ack": "amber",
    "resolved": "green",
}


def _when(label: str, value: rx.Var) -> rx.Component:
    return rx.cond(value != "", rx.text(label, " ", rx.moment(value, from_now=True), size="2"))


def _header() -> rx.Component:
    i = S.incident
    return rx.card(
        rx.vstack(
            rx.hstack(
                status_badge(i["status"], id="incident-status"),
                severity_badge(i["severity"], id="incident-severity"),
                rx.heading(i["title"], size="5", id="incident-title"),
                storm_badge(i["storm"]),
                align="center",
                spacing="3",
                wrap="wrap",
            ),
            rx.hstack(
                rx.text(i["firing_count"], " firing of ", i["alert_count"], " alerts", size="2", id="incident-counts"),
                _when("Opened", i["opened_at"]),
                _when("Last notified", i["last_notified_at"]),
                _when("Resolved", i["resolved_at"]),
                rx.text("Receiver ", rx.code(i["receiver"]), size="2"),
                spacing="4",
                wrap="wrap",
            ),
            rx.cond(
                i["group_labels"] != "",
                rx.text("Grouped by ", rx.code(i["group_labels"]), size="2", color_scheme="gray"),
            ),
            spacing="3",
        ),
        width="100%",
    )


def _group_analysis() -> rx.Component:
    return rx.cond(
        (S.analysis.length() > 0) | (S.queue_message != ""),  # type: ignore[attr-defined]
        section(
            "Group analysis",
            rx.text(
                "Storm control: the incident was analysed once, with all its alerts as data; every alert of it shows "
                "this analysis.",
                size="2",
                color_scheme="gray",
            ),
            message(S.queue_message, "gray", id="incident-queue"),
            rx.foreach(
                S.analysis,
                lambda a: rx.card(
                    rx.vstack(analysis_header(a), analysis_body(a, rx.Var.create(False)), spacing="3", width="100%"),
                    id="incident-analysis",
                    width="100%",
                ),
            ),
            id="incident-analysis-section",
        ),
    )


def _alert_row(row: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(status_badge(row["status"])),
        rx.table.cell(severity_badge(row["severity"])),
        rx.table.cell(rx.link(row["alertname"], href="/alerts/" + row["id"], class_name="alertname")),
        rx.table.cell(rx.text(row["instance"])),
        rx.table.cell(rx.text(row["summary"], max_width="32em", trim="both")),
        rx.table.cell(analysis_badge(row["analysis_status"], row["analysis_urgency"])),
        rx.table.cell(rx.moment(row["starts_at"], from_now=True, interval=30_000), white_space="nowrap"),
        class_name="incident-alert-row",
    )


def _alerts() -> rx.Component:
    headers = ["Status", "Severity", "Alert", "Instance", "Summary", "Analysis", "Age"]
    return section(
        "Alerts",
        rx.box(data_table(headers, S.alerts, _alert_row, body_id="incident-alerts", size="1"), overflow_x="auto"),
        rx.cond(
            S.alerts_more > 0,
            rx.text(
                S.alerts_more, " more alerts not listed (firing and most severe first)", size="2", id="alerts-more"
            ),
        ),
    )


def _timeline_row(item: rx.Var) -> rx.Component:
    kind_color = rx.match(item["kind"], *KIND_COLORS.items(), "gray")
    return rx.table.row(
        rx.table.cell(rx.moment(item["at"], format="YYYY-MM-DD HH:mm:ss"), white_space="nowrap"),
        rx.table.cell(rx.badge(item["kind"], color_scheme=kind_color, variant="soft")),
        rx.table.cell(
            rx.cond(item["link"] != "", rx.link(item["text"], href=item["link"]), rx.text(item["text"])),
            class_name="timeline-text",
        ),
        rx.table.cell(rx.text(item["who"])),
        class_name="incident-timeline-row",
        custom_attrs={"data-kind": item["kind"]},
    )


def _timeline() -> rx.Component:
    return section(
        "Timeline",
        rx.cond(S.timeline_truncated, rx.text("Earlier events are left out.", size="2", color_scheme="gray")),
        rx.box(
            data_table(
                ["When", "Kind", "What", "Who"], S.timeline, _timeline_row, body_id="incident-timeline", size="1"
            ),
            overflow_x="auto",
        ),
    )


# The Outcome and Seen before sections are the alert page's, about one of the incident's alerts.
@page("/incidents/[incident_id]", "Incident", role="user", on_load=[S.watch, OutcomeState.watch], title_var=S.title)
def incident_page() -> tuple[rx.Component, ...]:
    return (
        message(S.error, "red"),
        rx.cond(
            S.found,
            rx.cond(
                S.incident.contains("id"),  # type: ignore[attr-defined]
                rx.vstack(
                    _header(),
                    _group_analysis(),
                    _alerts(),
                    outcome_section(),
                    similar_section(),
                    _timeline(),
                    width="100%",
                ),
            ),
            rx.callout("No such incident.", color_scheme="orange", id="incident-not-found"),
        ),
    )
