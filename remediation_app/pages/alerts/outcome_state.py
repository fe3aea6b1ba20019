"""The Outcome section's state (alert and incident pages; the view is outcome.py): the outcome recorded
for the alert (verdict, root cause, fix, commands, tags, who and when) with the engine's verdict on
the fix and its evidence, and the form that records or edits it, prefilled from what happened
(commands typed in terminals opened from the alert, approved diagnostics, silences).

On an incident's page the section is about one of its alerts (the first listed, or the one picked).
One live loop (`watch`, channel "memory") refreshes this section and the "Seen before" one
(similar_state.py). Saving checks the login on the server and records through the service (audited);
the form keeps what was typed when the service refuses it. What people wrote is untrusted: shown as
text."""

from __future__ import annotations

import dataclasses
from typing import Any

import reflex as rx
from sqlmodel import col, select

from remediation_app.db import TRANSIENT_DB_ERRORS, async_session
from remediation_app.models import IncidentOutcome
from remediation_app.pages.alerts.similar_state import SimilarState, SimilarView, load_similar
from remediation_app.services.alert_text import clipped
from remediation_app.services.alerts.incidents import incident_alerts
from remediation_app.services.alerts.store import get_alert
from remediation_app.services.auth import Forbidden
from remediation_app.services.memory import outcomes
from remediation_app.services.memory.outcomes import COMMAND_MAX, COMMANDS_MAX, TAG_MAX, TAGS_MAX, TEXT_MAX
from remediation_app.state import (
    UNAVAILABLE,
    UNAVAILABLE_RETRYING,
    client_address,
    follow_events,
    login_redirect,
    parse_id,
    route_alert_id,
    session_user,
    user_from_cookies,
)

CHOICES_MAX = 50  # an incident's alerts offered
COMMANDS_TEXT_MAX = COMMANDS_MAX * (COMMAND_MAX + 1)
TAGS_TEXT_MAX = TAGS_MAX * (TAG_MAX + 2)
EVIDENCE_KEYS = ("fix_at", "resolved_at", "window_end", "hold_end", "refired_at", "refire_alert_id")


@dataclasses.dataclass
class SourceRow:
    command: str = ""
    at: str = ""
    where: str = ""


@dataclasses.dataclass
class MemoryPanel:
    """What both sections show, loaded outside the state lock."""

    alert_id: int
    choices: list[list[str]]
    outcome: dict[str, Any] | None
    similar: SimilarView


def _incident_id(state: rx.State) -> int:
    return parse_id(getattr(state, "incident_id", "")) or 0


async def load_panel(alert_id: int, incident_id: int, chosen: int) -> MemoryPanel | None:
    """The section's alert (`alert_id`, or on an incident's page `chosen` if it is one of its alerts,
    else its first) with its outcome and similar incidents; None: no such alert or incident."""
    choices: list[list[str]] = []
    async with async_session() as session:
        if incident_id:
            listed = await incident_alerts(session, incident_id, limit=CHOICES_MAX, listed=True)
            ids = [a.id for a in listed if a.id is not None]
            if not ids:
                return None
            rows = await session.exec(
                select(IncidentOutcome.alert_id, IncidentOutcome.fix_status).where(
                    col(IncidentOutcome.alert_id).in_(ids)
                )
            )
            status = dict(rows.all())
            for a in listed:
                label = f"#{a.id} {a.alertname} {a.instance}".strip()
                choices.append([str(a.id), clipped(f"{label}: {status.get(a.id) or 'no outcome yet'}", 200)])
            alert_id = chosen if chosen in ids else ids[0]
            session.expunge_all()  # listed without their labels: the alert shown is read whole below
        alert = await get_alert(session, alert_id) if alert_id else None
        if alert is None:
            return None
        row = await outcomes.get_outcome(session, alert_id)
        similar = await load_similar(session, alert)
    return MemoryPanel(alert_id, choices, outcomes.outcome_public(row) if row else None, similar)


def _evidence(check: dict[str, Any]) -> dict[str, str]:
    evidence = check.get("evidence") or {}
    shown = {key: str(evidence.get(key) or "") for key in EVIDENCE_KEYS}
    shown["fix_at"] = str(check.get("fix_at") or "")  # known before any verdict
    expression = evidence.get("expression") or {}
    if expression:
        series = expression.get("series")
        result = f"returned {series} series" if series is not None else f"failed: {expression.get('error', '')}"
        shown["expression"] = clipped(f"{expression.get('query', '')} at the end of the hold: {result}", 500)
    else:
        shown["expression"] = ""
    return shown


class OutcomeState(rx.State):
    alert: str = ""  # the id of the alert the section is about
    choices: list[list[str]] = []  # on an incident's page: [alert id, label]
    has_outcome: bool = False
    recorded: dict[str, str] = {}
    recorded_commands: list[str] = []
    recorded_tags: list[str] = []
    check: dict[str, str] = {}  # status, detail, fix_from, and EVIDENCE_KEYS, expression
    editing: bool = False
    verdict: str = ""
    root_cause: str = ""
    fix: str = ""
    commands: str = ""  # one a line
    tags: str = ""  # separated by commas
    sources: list[SourceRow] = []
    error: str = ""
    notice: str = ""
    _shown_alert: int = 0
    _chosen: int = 0
    _prefilled_for: int = 0
    _page: str = ""  # "<alert id>:<incident id>" of the route shown

    def _forget(self) -> None:
        self.alert, self.choices, self.has_outcome, self.recorded = "", [], False, {}
        self.recorded_commands, self.recorded_tags, self.check, self.editing = [], [], {}, False
        self._clear_form()
        self.sources, self.error, self.notice = [], "", ""
        self._shown_alert = self._chosen = self._prefilled_for = 0
        self._page = ""

    def _clear_form(self) -> None:
        self.verdict = self.root_cause = self.fix = self.commands = self.tags = ""

    async def _show(self, panel: MemoryPanel | None) -> None:
        if panel is None:
            self._forget()
            (await self.get_state(SimilarState))._forget()
            return
        if panel.alert_id != self._shown_alert:
            self.editing, self.sources, self.notice = False, [], ""
            self._clear_form()
        self._shown_alert, self.alert, self.choices = panel.alert_id, str(panel.alert_id), panel.choices
        outcome = panel.outcome or {}
        self.has_outcome = bool(outcome)
        self.recorded = {
            key: "" if outcome.get(key) is None else str(outcome[key])
            for key in ("verdict", "root_cause", "fix", "created_by", "created_at", "updated_by", "updated_at", "edits")
        }
        self.recorded_commands = list(outcome.get("commands") or [])
        self.recorded_tags = list(outcome.get("tags") or [])
        check = outcome.get("fix_check") or {}
        self.check = {
            "status": str(check.get("status") or ""),
            "detail": str(check.get("detail") or ""),
            "fix_from": str(check.get("fix_from") or ""),
            **_evidence(check),
        }
        (await self.get_state(SimilarState))._show(panel.similar)

    def _prefill(self, suggestion: dict[str, Any]) -> None:
        self.commands = "\n".join(suggestion["commands"])[:COMMANDS_TEXT_MAX]
        if not self.fix.strip():
            self.fix = str(suggestion["fix"])[:TEXT_MAX]
        self.sources = [SourceRow(s["command"][:COMMAND_MAX], s["at"], s["where"]) for s in suggestion["sources"]]

    async def _refresh(self, watched: set[int]) -> None:
        """Raises Forbidden (after forgetting what it showed) when the tab's login is gone. `watched`
        becomes the alert shown (the events that concern the section)."""
        async with self:
            alert_id, incident_id, chosen = route_alert_id(self), _incident_id(self), self._chosen
            cookies, prefilled = self.router.headers.cookie, self._prefilled_for
        try:
            viewer = await user_from_cookies(cookies)
        except Forbidden:
            async with self:
                self._forget()
                (await self.get_state(SimilarState))._forget()
            raise
        suggestion = None
        try:
            panel = await load_panel(alert_id, incident_id, chosen)
            # The form of an alert without an outcome is prefilled once (reading recordings costs).
            if panel is not None and panel.outcome is None and prefilled != panel.alert_id:
                suggestion = await outcomes.suggestion(panel.alert_id, viewer)
            error = ""
        except TRANSIENT_DB_ERRORS:
            panel, error = None, UNAVAILABLE_RETRYING
        async with self:
            if (route_alert_id(self), _incident_id(self)) != (alert_id, incident_id):
                return  # the tab moved on meanwhile
            self.error = error
            if error:
                return
            await self._show(panel)
            if panel is not None and suggestion is not None and not self.editing:
                self._prefill(suggestion)
                self._prefilled_for = panel.alert_id
        watched.clear()
        if panel is not None:
            watched.add(panel.alert_id)

    @rx.event(background=True)
    async def watch(self):
        async with self:
            alert_id, incident_id = route_alert_id(self), _incident_id(self)
            page = f"{alert_id}:{incident_id}"
            if self._page != page:  # another alert or incident in this tab: never show the previous one
                self._forget()
                (await self.get_state(SimilarState))._forget()
                self._page = page
        watched: set[int] = {alert_id} if alert_id else set()

        def concerns_me(event: dict[str, Any]) -> bool:
            ids = event.get("ids", [])
            if event.get("topic") == outcomes.TOPIC:
                return bool(incident_id) or not watched.isdisjoint(ids) or event.get("count", 0) > len(ids)
            return bool(incident_id) and event.get("topic") == "alerts" and event.get("incident_id") == incident_id

        async def refresh() -> None:
            await self._refresh(watched)

        await follow_events(self, refresh, concerns_me, channel="memory")

    @rx.event
    def set_verdict(self, value: str):
        if value in outcomes.VERDICTS:
            self.verdict = value

    @rx.event
    def set_root_cause(self, value: str):
        self.root_cause = str(value)[:TEXT_MAX]

    @rx.event
    def set_fix(self, value: str):
        self.fix = str(value)[:TEXT_MAX]

    @rx.event
    def set_commands(self, value: str):
        self.commands = str(value)[:COMMANDS_TEXT_MAX]

    @rx.event
    def set_tags(self, value: str):
        self.tags = str(value)[:TAGS_TEXT_MAX]

    @rx.event
    def start_edit(self):
        """The recorded outcome into the form (nothing is stored until Save)."""
        if not self.has_outcome:
            return
        self.verdict, self.root_cause, self.fix = (self.recorded.get(k, "") for k in ("verdict", "root_cause", "fix"))
        self.commands, self.tags = "\n".join(self.recorded_commands), ", ".join(self.recorded_tags)
        self.editing, self.error, self.notice = True, "", ""

    @rx.event
    def cancel_edit(self):
        self.editing, self.error = False, ""
        self._clear_form()

    async def _user_or_redirect(self) -> Any:
        try:
            return await session_user(self)
        except Forbidden:
            self._forget()
            (await self.get_state(SimilarState))._forget()
            return None

    @rx.event
    async def prefill(self):
        """The form's commands (and, when empty, its fix) from what happened to the alert, read again."""
        viewer = await self._user_or_redirect()
        if viewer is None:
            return login_redirect(self.router.url.path)
        if not self._shown_alert:
            return None
        try:
            suggestion = await outcomes.suggestion(self._shown_alert, viewer)
        except TRANSIENT_DB_ERRORS:
            self.error = UNAVAILABLE
            return None
        self._prefill(suggestion)
        self._prefilled_for, self.error = self._shown_alert, ""
        self.notice = f"Prefilled {len(suggestion['commands'])} commands from what happened to the alert."
        return None

    @rx.event
    async def choose(self, value: str):
        """On an incident's page: the alert of the section (one of the incident's)."""
        if await self._user_or_redirect() is None:
            return login_redirect(self.router.url.path)
        picked = parse_id(value)
        if picked is None or str(picked) not in {c[0] for c in self.choices}:
            return None
        self._chosen = picked
        return OutcomeState.watch

    @rx.event
    async def save(self):
        user = await self._user_or_redirect()
        if user is None:
            return login_redirect(self.router.url.path)
        alert_id = self._shown_alert
        if not alert_id:
            self.error = "No alert is shown here."
            return None
        lines = self.commands.splitlines()
        try:
            data = outcomes.checked_input(
                verdict=self.verdict,
                root_cause=self.root_cause,
                fix=self.fix,
                commands=lines,
                tags=self.tags.replace("\n", ",").split(","),
            )
            async with async_session() as session:
                _row, created = await outcomes.record_outcome(
                    session, alert_id, data, user=user, address=client_address(self)
                )
            panel = await load_panel(route_alert_id(self), _incident_id(self), alert_id)
        except outcomes.OutcomeRefused as exc:
            self.error = "Choose whether the analysis was right." if exc.field == "verdict" else exc.message
            return None
        except TRANSIENT_DB_ERRORS:
            self.error = UNAVAILABLE
            return None
        self.error, self.editing = "", False
        self._clear_form()
        await self._show(panel)
        self.notice = "Outcome recorded." if created else "Outcome saved."
        return None
