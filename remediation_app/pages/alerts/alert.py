"""One alert (/alerts/<id>, any logged-in user): the summary card, the rule decision, its LLM
analyses, the chat, a terminal (folded until opened; the alert's server preselected), labels and
annotations (as text, a bounded page at a time), and the notification timeline.

The state is in alert_state.py; each section's state is beside its view (analysis, chat, labels).
"""

from __future__ import annotations

import reflex as rx

from remediation_app.components.badges import action_badge, severity_badge, status_badge
from remediation_app.components.callouts import message
from remediation_app.components.panels import section
from remediation_app.pages.alerts.alert_state import AlertPageState
from remediation_app.pages.alerts.analysis import analysis_section
from remediation_app.pages.alerts.chat import chat_section
from remediation_app.pages.alerts.chat_state import AlertChatState
from remediation_app.pages.alerts.labels import pairs_section
from remediation_app.pages.page import page
from remediation_app.pages.terminal.panel import terminal_panel
from remediation_app.pages.terminal.panel_state import TerminalPanelState


def summary_card() -> rx.Component:
    a = AlertPageState.alert
    return rx.card(
        rx.vstack(
            rx.hstack(
                status_badge(a["status"], id="alert-status"),
                severity_badge(a["severity"], id="alert-severity"),
                action_badge(a["action"], id="alert-action"),
                rx.heading(a["alertname"], size="5", id="alert-name"),
                align="center",
                spacing="3",
            ),
            rx.text(a["summary"], id="alert-summary", white_space="pre-wrap"),
            rx.hstack(
                rx.text("Started ", rx.moment(a["starts_at"], from_now=True), size="2"),
                rx.cond(a["ends_at"] != "", rx.text("Ended ", rx.moment(a["ends_at"], from_now=True), size="2")),
                rx.text(
                    "Notified ",
                    a["times_notified"],
                    rx.cond(a["times_notified"] == "1", " time", " times"),
                    size="2",
                    id="alert-notified",
                ),
                rx.text("Receiver ", rx.code(a["receiver"]), size="2"),
                spacing="4",
            ),
            rx.hstack(
                rx.cond(
                    AlertPageState.runbook_url != "",
                    rx.link("Runbook", href=AlertPageState.runbook_url, is_external=True, id="runbook-link"),
                ),
                rx.cond(
                    AlertPageState.generator_url != "",
                    rx.link(
                        "Source (Prometheus)", href=AlertPageState.generator_url, is_external=True, id="generator-link"
                    ),
                ),
                spacing="4",
            ),
            spacing="3",
        ),
        width="100%",
    )


def rule_card() -> rx.Component:
    a = AlertPageState.alert
    return section(
        "Rule decision",
        rx.text("Action ", action_badge(a["action"]), " by rule ", rx.text.strong(a["rule_name"]), id="rule-name"),
        rx.text(a["rule_reason"], id="rule-reason", size="2", color_scheme="gray"),
    )


def timeline_table() -> rx.Component:
    return section(
        "Notification timeline",
        rx.table.root(
            rx.table.header(
                rx.table.row(*[rx.table.column_header_cell(h) for h in ("Received", "Status", "Receiver")])
            ),
            rx.table.body(
                rx.foreach(
                    AlertPageState.timeline,
                    lambda t: rx.table.row(
                        rx.table.cell(rx.moment(t["received_at"], format="YYYY-MM-DD HH:mm:ss Z")),
                        rx.table.cell(status_badge(t["status"])),
                        rx.table.cell(rx.text(t["receiver"])),
                        class_name="timeline-row",
                    ),
                )
            ),
            size="1",
            width="100%",
            id="timeline",
        ),
    )


def terminal_section() -> rx.Component:
    """The terminal panel, folded until the user opens it (folding keeps a running session; "Send to
    terminal" unfolds it). TerminalPanelState.for_alert (on load) preselected the alert's server."""
    return rx.el.details(
        rx.el.summary(
            rx.heading("Terminal", size="4", display="inline"),
            rx.text.span(
                "  a shell on the alert's server: commands sent here wait for your Enter",
                size="2",
                color_scheme="gray",
            ),
            cursor="pointer",
            id="alert-terminal-toggle",
        ),
        rx.box(terminal_panel(height="24em"), padding_top="0.75em", width="100%"),
        id="alert-terminal",
        width="100%",
        margin_top="1.25em",
    )


@page(
    "/alerts/[alert_id]",
    "Alert",
    role="user",
    on_load=[AlertPageState.watch, AlertChatState.load, TerminalPanelState.for_alert],
)
def alert_page() -> tuple[rx.Component, ...]:
    return (
        message(AlertPageState.error, "red"),
        rx.cond(
            AlertPageState.found,
            rx.vstack(
                summary_card(),
                rule_card(),
                analysis_section(),
                chat_section(),
                terminal_section(),
                pairs_section("Labels", "labels", AlertPageState.alert["id"]),
                pairs_section("Annotations", "annotations", AlertPageState.alert["id"]),
                timeline_table(),
                width="100%",
            ),
            rx.callout("No such alert.", color_scheme="orange", id="not-found"),
        ),
    )
