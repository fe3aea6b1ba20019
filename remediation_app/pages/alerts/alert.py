"""One alert (/alerts/<id>, any logged-in user), as an on-call page.

On a wide screen (>= 80em, 1280 px) two columns: on the left the alert (its summary card with what
Alertmanager says of it, its links, Ack and Silence; the silences covering it; the rule decision;
the LLM analysis with its evidence; related alerts and history; labels, annotations, the
notification timeline), on the right the terminal and the chat, sticky, so that "Send to terminal"
shows its effect in view. Below that width one column, usable on a phone (390 px).

The state is in alert_state.py; each section's state is beside its view (analysis, chat, labels,
related, silence).
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
from remediation_app.pages.alerts.outcome import outcome_section
from remediation_app.pages.alerts.outcome_state import OutcomeState
from remediation_app.pages.alerts.proposals import proposals_section
from remediation_app.pages.alerts.proposals_state import AlertProposalsState
from remediation_app.pages.alerts.related import related_section
from remediation_app.pages.alerts.silence import action_buttons, silence_dialog, silences_list
from remediation_app.pages.alerts.similar import similar_section
from remediation_app.pages.page import page
from remediation_app.pages.terminal.panel import terminal_panel
from remediation_app.pages.terminal.panel_state import TerminalPanelState

WIDE = "80em"  # two columns from here (Reflex's "lg" breakpoint, 1280 px)
# The frame lets the page use the window's width (`wide`); beyond this the lines get too long to read.
MAX_WIDTH = "2400px"
AM_STATE_COLORS = (("suppressed", "amber"), ("unprocessed", "gray"), "blue")


def _external(text: str, href: rx.Var[str], id_: str) -> rx.Component:
    """A link to another tool, in a new tab that cannot reach back into this one."""
    return rx.cond(href != "", rx.link(text, href=href, is_external=True, rel="noopener noreferrer", size="2", id=id_))


def _links() -> rx.Component:
    s = AlertPageState
    return rx.hstack(
        _external("Runbook", s.runbook_url, "runbook-link"),
        _external("Source graph", s.generator_url, "generator-link"),
        _external("Alertmanager", s.alertmanager_url, "alertmanager-link"),
        rx.cond(s.incident.length() > 0, rx.link(s.incident[1], href=s.incident[0], size="2", id="incident-link")),  # type: ignore[attr-defined]
        spacing="4",
        wrap="wrap",
    )


def _alertmanager_state() -> rx.Component:
    """Alertmanager's state (from the sync), what suppresses the alert, and who acked it."""
    a = AlertPageState.alert
    return rx.fragment(
        rx.cond(
            AlertPageState.silenced_by.length() > 0,  # type: ignore[attr-defined]
            rx.text(
                "Silenced by ",
                rx.foreach(
                    AlertPageState.silenced_by,
                    lambda s: rx.cond(
                        s[1] != "",
                        rx.link(s[0], href=s[1], is_external=True, rel="noopener noreferrer", margin_right="0.5em"),
                        rx.code(s[0], margin_right="0.5em"),
                    ),
                ),
                size="2",
                id="silenced-by",
            ),
        ),
        rx.cond(
            AlertPageState.inhibited_by.length() > 0,  # type: ignore[attr-defined]
            rx.text(
                "Inhibited by ",
                rx.foreach(
                    AlertPageState.inhibited_by,
                    lambda i: rx.cond(
                        i[1] != "", rx.link(i[0], href=i[1], margin_right="0.5em"), rx.code(i[0], margin_right="0.5em")
                    ),
                ),
                size="2",
                id="inhibited-by",
            ),
        ),
        rx.cond(
            a["acked_by"] != "",
            rx.text(
                "Acknowledged by ",
                rx.text.strong(a["acked_by"]),
                " ",
                rx.moment(a["acked_at"], from_now=True),
                size="2",
                id="acked-by",
            ),
        ),
    )


def summary_card() -> rx.Component:
    a = AlertPageState.alert
    return rx.card(
        rx.vstack(
            rx.hstack(
                status_badge(a["status"], id="alert-status"),
                severity_badge(a["severity"], id="alert-severity"),
                action_badge(a["action"], id="alert-action"),
                rx.cond(
                    a["am_state"] != "",
                    rx.badge(
                        a["am_state"],
                        color_scheme=rx.match(a["am_state"], *AM_STATE_COLORS),
                        variant="outline",
                        title="Alertmanager's state of the alert (from the last sync)",
                        id="alert-am-state",
                    ),
                ),
                rx.cond(a["acked_by"] != "", rx.badge("acked", color_scheme="blue", id="alert-acked")),
                rx.heading(a["alertname"], size="5", id="alert-name", word_break="break-word"),
                align="center",
                spacing="3",
                wrap="wrap",
            ),
            rx.text(a["summary"], id="alert-summary", white_space="pre-wrap", word_break="break-word"),
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
                wrap="wrap",
            ),
            _alertmanager_state(),
            rx.flex(
                _links(),
                rx.spacer(),
                action_buttons(a["status"] == "firing", a["acked_by"] != ""),
                align="center",
                gap="3",
                wrap="wrap",
                width="100%",
            ),
            silences_list(),
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
                        rx.table.cell(rx.text(t["receiver"], word_break="break-word")),
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
    )


def _columns() -> rx.Component:
    main = rx.vstack(
        summary_card(),
        rule_card(),
        similar_section(),
        analysis_section(),
        proposals_section(),
        outcome_section(),
        related_section(),
        pairs_section("Labels", "labels", AlertPageState.alert["id"]),
        pairs_section("Annotations", "annotations", AlertPageState.alert["id"]),
        timeline_table(),
        id="alert-main",
        min_width="0",
        width="100%",
    )
    # Sticky on a wide screen: it stays in view while the left column scrolls, and scrolls itself
    # when the chat is longer than the window.
    side = rx.vstack(
        terminal_section(),
        chat_section(),
        id="alert-side",
        min_width="0",
        width="100%",
        style={
            f"@media (min-width: {WIDE})": {
                "position": "sticky",
                "top": "0.75em",
                "max_height": "calc(100vh - 1.5em)",
                "overflow_y": "auto",
                "padding_right": "0.25em",
            }
        },
    )
    return rx.box(
        main,
        side,
        id="alert-columns",
        display="grid",
        grid_template_columns="minmax(0, 1fr)",
        gap="1.5em",
        align_items="start",
        width="100%",
        max_width=MAX_WIDTH,
        style={f"@media (min-width: {WIDE})": {"grid_template_columns": "minmax(0, 1fr) minmax(0, 1fr)"}},
    )


@page(
    "/alerts/[alert_id]",
    "Alert",
    role="user",
    on_load=[
        AlertPageState.watch,
        AlertProposalsState.watch,
        OutcomeState.watch,
        AlertChatState.load,
        TerminalPanelState.for_alert,
    ],
    title_var=AlertPageState.title,
    wide=True,
)
def alert_page() -> tuple[rx.Component, ...]:
    return (
        message(AlertPageState.error, "red"),
        rx.cond(
            AlertPageState.found,
            _columns(),
            rx.callout("No such alert.", color_scheme="orange", id="not-found"),
        ),
        silence_dialog(),
    )
