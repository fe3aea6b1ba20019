"""One alert: labels, annotations (as text, a bounded page at a time: alert_labels.py), links,
notification timeline, the rule decision, its LLM analyses, the chat, and a terminal (folded until
opened; the alert's server preselected).

Alert text is bounded before it reaches a state var (services/alert_text.py): the summary card
holds only the alert's short fields, each cut at TEXT_MAX, and links up to URL_MAX characters."""

from __future__ import annotations

from typing import Any

import reflex as rx

from remediation_app.components.badges import action_badge, severity_badge, status_badge
from remediation_app.db import TRANSIENT_DB_ERRORS, async_session
from remediation_app.layout import layout
from remediation_app.models import Alert
from remediation_app.pages.alert_analysis import (
    AlertAnalysisState,
    AnalysisPanel,
    analysis_section,
    load_analysis_panel,
)
from remediation_app.pages.alert_chat import AlertChatState
from remediation_app.pages.alert_chat_view import chat_section
from remediation_app.pages.alert_labels import AlertLabelsState, compute_pages, pairs_section
from remediation_app.pages.terminal_panel_view import terminal_panel
from remediation_app.services.alert_text import PairsPage, bounded_link, clipped
from remediation_app.services.alerts import alert_summary, alert_timeline, get_alert
from remediation_app.services.auth import Forbidden
from remediation_app.state import follow_events, route_alert_id, user_from_cookies

RUNBOOK_KEYS = ("runbook_url", "runbook")
TEXT_MAX = 2_000  # any field of the summary card (ingest already cuts names at 255, the summary at 1,024)
TIMELINE_KEYS = ("received_at", "status", "receiver")  # what the table shows (not the group key)


class AlertPageState(rx.State):
    found: bool = True
    alert: dict[str, str] = {}
    timeline: list[dict[str, str]] = []
    runbook_url: str = ""
    generator_url: str = ""
    error: str = ""

    def _alert_id(self) -> int:
        """The id in the URL (/alerts/<id>), or 0 when it cannot be an alert's id."""
        return route_alert_id(self)

    def _forget_other_alert(self, alert_id: int) -> None:
        """Opening another alert in this tab: never show the previous one under the new URL."""
        if self.alert.get("id") != str(alert_id):
            self.found, self.alert, self.timeline = True, {}, []
            self.runbook_url = self.generator_url = self.error = ""

    async def _refresh(self) -> None:
        """Raises Forbidden (after forgetting the alert) when the tab's login is gone or revoked."""
        async with self:
            alert_id, cookies = self._alert_id(), self.router.headers.cookie
            shown_pages = (await self.get_state(AlertLabelsState))._pages()
        try:
            await user_from_cookies(cookies)
        except Forbidden:
            async with self:
                self._forget_other_alert(-1)
                (await self.get_state(AlertAnalysisState))._forget()
                (await self.get_state(AlertChatState))._forget()
                (await self.get_state(AlertLabelsState))._forget()
            raise
        shown: dict[str, str] | None = None
        runbook = source = ""
        pairs: list[PairsPage] = []
        timeline: list[dict[str, Any]] = []
        panel: AnalysisPanel | None = None
        try:
            async with async_session() as session:
                alert = await get_alert(session, alert_id) if alert_id else None
                if alert is not None:
                    shown, runbook, source = _bounded(alert)
                    pairs = compute_pages(shown_pages, alert.labels, alert.annotations)
                    timeline = await alert_timeline(session, alert_id)
                    panel = await load_analysis_panel(session, alert_id)
            error = ""
        except TRANSIENT_DB_ERRORS:
            error = "The database is unavailable; retrying on the next change."
        async with self:
            self.error = error
            if error:
                return
            self.found = shown is not None
            if shown is None or panel is None:
                (await self.get_state(AlertAnalysisState))._forget()
                (await self.get_state(AlertLabelsState))._forget()
                return
            (await self.get_state(AlertAnalysisState))._show(alert_id, panel)
            (await self.get_state(AlertLabelsState))._show(alert_id, shown_pages, *pairs)
            self.alert, self.runbook_url, self.generator_url = shown, runbook, source
            self.timeline = [{k: str(t[k]) for k in TIMELINE_KEYS} for t in timeline]

    @rx.event(background=True)
    async def watch(self):
        async with self:
            alert_id = self._alert_id()
            self._forget_other_alert(alert_id)
            (await self.get_state(AlertAnalysisState))._forget_unless(alert_id)
            (await self.get_state(AlertLabelsState))._forget_unless(alert_id)

        def concerns_me(event: dict[str, Any]) -> bool:
            ids = event.get("ids", [])
            return alert_id in ids or event.get("count", 0) > len(ids)

        await follow_events(self, self._refresh, concerns_me)


def _bounded(alert: Alert) -> tuple[dict[str, str], str, str]:
    """What the summary card shows (the alert's short fields), its runbook and source links."""
    fields = alert_summary(alert) | {
        "receiver": alert.receiver,
        "rule_name": alert.matched_rule_name or "(none: default action)",
        "rule_reason": alert.match_reason,
    }
    shown = {k: "" if v is None else clipped(str(v), TEXT_MAX) for k, v in fields.items()}
    annotations = alert.annotations or {}
    runbook = next((bounded_link(str(annotations[k])) for k in RUNBOOK_KEYS if k in annotations), "")
    return shown, runbook, bounded_link(alert.generator_url)


def _section(title: str, *children: rx.Component) -> rx.Component:
    return rx.vstack(rx.heading(title, size="4"), *children, width="100%", spacing="2", margin_top="1.25em")


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
                rx.text("Notified ", a["times_notified"], " times", size="2"),
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
    return _section(
        "Rule decision",
        rx.text("Action ", action_badge(a["action"]), " by rule ", rx.text.strong(a["rule_name"]), id="rule-name"),
        rx.text(a["rule_reason"], id="rule-reason", size="2", color_scheme="gray"),
    )


def timeline_table() -> rx.Component:
    return _section(
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


def alert_page() -> rx.Component:
    return layout(
        rx.cond(AlertPageState.error != "", rx.callout(AlertPageState.error, color_scheme="red")),
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
        title="Alert",
    )
