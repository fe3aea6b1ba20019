"""The alert page's Diagnostics section (the view is proposals.py): the commands models proposed for
the alert's servers, live, each with its server, the exact command, the model's reason, the policy's
verdict and its status; Approve and Reject (with an optional note) for a pending one the user's role
may open the server of; the output (redacted) once it ran.

The section follows the bus on its own (`follow_events` channel "proposals": the page's own loop is
AlertPageState's). Approve and Reject check the login and the role on the server
(services.diagnostics.proposals, the terminal's rule), for the proposal shown in this tab only.
Everything shown is text: commands, reasons, notes and outputs are untrusted and never markup.

`ProposalsWaitingState` is the dashboard's count of proposals waiting for a person (its own loop,
channel "proposals-waiting", started when the badge mounts).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import reflex as rx
from sqlmodel import col, select

from remediation_app.db import TRANSIENT_DB_ERRORS, async_session
from remediation_app.models import DiagnosticProposal, SSHServer, User
from remediation_app.services.auth import Forbidden
from remediation_app.services.diagnostics.proposals import (
    NOTE_MAX,
    TOPIC,
    ProposalRefused,
    approve,
    proposal_public,
    proposals_for,
    reject,
    waiting_count,
)
from remediation_app.services.diagnostics.runner import wake_runners
from remediation_app.services.events import bus
from remediation_app.services.terminal.servers import may_open
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

TEXT_MAX = 20_000  # characters of one output shown (stored at most DIAGNOSTIC_OUTPUT_MAX_BYTES)


@dataclasses.dataclass
class ProposalView:
    id: str = ""
    server: str = ""
    command: str = ""
    proposed: str = ""  # the model's own text, when it was written otherwise
    reason: str = ""
    origin: str = ""
    status: str = ""
    verdict: str = ""
    created_at: str = ""
    expires_at: str = ""
    decided_by: str = ""
    decided_at: str = ""
    note: str = ""
    exit_status: str = ""
    output: str = ""
    stderr: str = ""
    error: str = ""
    facts: str = ""  # "1.2 KiB, SHA-256 ab12…; cut at the output cap"
    ran: bool = False
    may_decide: bool = False  # pending, and this user's role may open its server


def _clip(text: str | None) -> str:
    text = text or ""
    return text if len(text) <= TEXT_MAX else text[:TEXT_MAX] + f"\n[… {len(text) - TEXT_MAX} more characters]"


def proposal_view(row: DiagnosticProposal, may_decide: bool) -> ProposalView:
    public = proposal_public(row)
    facts = []
    if public["output"] is not None:
        facts.append(f"{row.output_bytes} bytes, SHA-256 {row.output_sha256[:16]}…")
    if row.truncated:
        facts.append("cut at the output cap (the command was stopped)")
    return ProposalView(
        id=str(row.id),
        **{k: _clip(public[k]) for k in ("server", "command", "proposed", "reason", "verdict", "note", "error")},
        origin=row.origin,
        status=row.status,
        created_at=public["created_at"] or "",
        expires_at=public["expires_at"] or "",
        decided_by=row.decided_by,
        decided_at=public["decided_at"] or "",
        exit_status="" if row.exit_status is None else str(row.exit_status),
        output=_clip(public["output"]),
        stderr=_clip(public["stderr"]),
        facts="; ".join(facts),
        ran=public["output"] is not None,
        may_decide=may_decide and row.status == "pending",
    )


async def load_proposals(alert_id: int, user: User) -> list[ProposalView]:
    async with async_session() as session:
        rows = await proposals_for(session, alert_id)
        ids = {row.server_id for row in rows if row.server_id is not None}
        servers = (await session.exec(select(SSHServer).where(col(SSHServer.id).in_(ids)))).all() if ids else []
    allowed = {server.id for server in servers if may_open(server, user)}
    return [proposal_view(row, row.server_id in allowed) for row in rows]


class AlertProposalsState(rx.State):
    proposals: list[ProposalView] = []
    notes: dict[str, str] = {}  # the note typed beside a pending proposal, by its id
    error: str = ""
    _shown_alert: int = 0

    def _forget(self) -> None:
        self.proposals, self.notes, self.error, self._shown_alert = [], {}, "", 0

    def _show(self, alert_id: int, rows: list[ProposalView]) -> None:
        if self._shown_alert != alert_id:
            self.notes = {}
        self._shown_alert, self.proposals = alert_id, rows
        pending = {row.id for row in rows if row.may_decide}
        self.notes = {k: v for k, v in self.notes.items() if k in pending}

    async def _refresh(self) -> None:
        """Raises Forbidden (after forgetting what it showed) when the tab's login is gone."""
        async with self:
            alert_id, cookies = route_alert_id(self), self.router.headers.cookie
        try:
            user = await user_from_cookies(cookies)
        except Forbidden:
            async with self:
                self._forget()
            raise
        try:
            rows = await load_proposals(alert_id, user) if alert_id else []
            error = ""
        except TRANSIENT_DB_ERRORS:
            rows, error = [], UNAVAILABLE_RETRYING
        async with self:
            if route_alert_id(self) != alert_id:
                return  # the tab moved on to another alert meanwhile
            self.error = error
            if not error:
                self._show(alert_id, rows)

    @rx.event(background=True)
    async def watch(self):
        async with self:
            alert_id = route_alert_id(self)
            if self._shown_alert != alert_id:
                self._forget()

        def concerns_me(event: dict[str, Any]) -> bool:
            ids = event.get("ids", [])
            return event.get("topic") == TOPIC and (alert_id in ids or event.get("count", 0) > len(ids))

        await follow_events(self, self._refresh, concerns_me, channel="proposals")

    @rx.event
    def set_note(self, proposal_id: str, value: str):
        """Only the box beside a proposal shown here as pending (nothing is checked or stored yet)."""
        key = str(proposal_id)
        if any(row.id == key and row.may_decide for row in self.proposals):
            self.notes[key] = str(value)[:NOTE_MAX]

    async def _decide(self, proposal_id: str, ok: bool) -> Any:
        try:
            user = await session_user(self)
        except Forbidden:
            self._forget()
            return login_redirect(self.router.url.path)
        target = parse_id(proposal_id)
        shown = next((row for row in self.proposals if row.id == str(target)), None)
        alert_id = route_alert_id(self)
        if target is None or shown is None or self._shown_alert != alert_id:
            self.error = "That proposal is not shown here."
            return None
        decide = approve if ok else reject
        try:
            async with async_session() as session:
                try:
                    note = self.notes.get(shown.id)
                    await decide(session, target, user=user, note=note, address=client_address(self))
                    self.error = ""
                except ProposalRefused as exc:
                    self.error = str(exc)
                await session.commit()  # the decision, or the refusal's audit event
            rows = await load_proposals(alert_id, user)
        except TRANSIENT_DB_ERRORS:
            self.error = UNAVAILABLE
            return None
        self.notes.pop(shown.id, None)
        self._show(alert_id, rows)
        await bus.publish(TOPIC, ids=[alert_id], count=1)
        if ok and not self.error:
            await wake_runners()
        return None

    @rx.event
    async def approve(self, proposal_id: str):
        """Run it (once, soon): refused unless pending, not expired, and the user's role may open its server."""
        return await self._decide(proposal_id, True)

    @rx.event
    async def reject(self, proposal_id: str):
        return await self._decide(proposal_id, False)


class ProposalsWaitingState(rx.State):
    """How many proposals wait for a person, across all alerts (the dashboard's badge)."""

    waiting: int = 0

    async def _refresh(self) -> None:
        async with self:
            cookies = self.router.headers.cookie
        try:
            await user_from_cookies(cookies)
        except Forbidden:
            async with self:
                self.waiting = 0
            raise
        try:
            async with async_session() as session:
                count = await waiting_count(session)
        except TRANSIENT_DB_ERRORS:
            return
        async with self:
            self.waiting = count

    @rx.event(background=True)
    async def watch(self):
        def concerns_me(event: dict[str, Any]) -> bool:
            return event.get("topic") == TOPIC and not event.get("wake")

        await follow_events(self, self._refresh, concerns_me, channel="proposals-waiting")
