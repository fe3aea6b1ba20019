"""Proposals: a model's command for a server, stored with the policy's verdict (pending, or refused
and never offered); a person allowed on that server approves or rejects it, once; nobody deciding in
time expires it. The caller commits (also after a refusal: its audit event is in the session).

An approval is one conditional UPDATE (pending and not expired -> approved) of the proposal named in
the request: a second approval, one after expiry, or one racing another finds no pending row and is
refused. The command and server of a row are never changed after it is stored (nothing writes them),
and what runs is read from the row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.models import DiagnosticProposal, ProposalStatus, SSHServer, User, utcnow
from remediation_app.services import audit
from remediation_app.services.diagnostics import policy_store
from remediation_app.services.diagnostics.check import MAX_COMMAND_CHARS, check_command
from remediation_app.services.notify import events as notify_events
from remediation_app.services.records import columns, isoformat
from remediation_app.services.terminal.servers import may_open
from remediation_app.services.text import storable_text
from remediation_app.settings import get_settings

TOPIC = "proposals"  # bus events: {"topic": TOPIC, "ids": [alert ids], "count": n}
PROPOSALS = DiagnosticProposal.__table__  # type: ignore[attr-defined]
REASON_MAX = 2000
NOTE_MAX = 1000
PENDING_PER_ALERT = 5
LIST_MAX = 50
# What "status" says to the person whose approval came too late.
_TOO_LATE = {
    ProposalStatus.APPROVED.value: "was already approved",
    ProposalStatus.RUNNING.value: "was already approved and is running",
    ProposalStatus.DONE.value: "was already approved and has run",
    ProposalStatus.FAILED.value: "was already approved (its run failed)",
    ProposalStatus.REJECTED.value: "was rejected",
    ProposalStatus.REFUSED.value: "was refused by the policy: it is never offered",
    ProposalStatus.EXPIRED.value: "expired",
}


class ProposalRefused(Exception):
    """A request about a proposal that cannot be granted; `status` is the HTTP status that fits."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Origin:
    """Where a proposal comes from: an analysis job, or a chat conversation."""

    kind: str  # analysis or chat
    job_id: int | None = None
    conversation_id: int | None = None


def check_note(note: str | None) -> str:
    text = storable_text((note or "").strip())
    if len(text) > NOTE_MAX:
        raise ProposalRefused(f"a note is at most {NOTE_MAX} characters", 422)
    return text


async def _pending_count(session: AsyncSession, alert_id: int) -> int:
    found = await session.exec(
        select(func.count())
        .select_from(DiagnosticProposal)
        .where(col(DiagnosticProposal.alert_id) == alert_id, col(DiagnosticProposal.status) == "pending")
    )
    return int(found.one())


async def registered_server(session: AsyncSession, name: str) -> SSHServer | None:
    rows = await session.exec(select(SSHServer).where(col(SSHServer.name) == name))
    return rows.first()


async def propose(
    session: AsyncSession,
    *,
    alert_id: int,
    server: str,
    command: str,
    reason: str,
    origin: Origin,
    tool_call_id: str = "",
) -> DiagnosticProposal:
    """Store a model's proposal: pending when the policy allows it for that registered server, else
    refused with the reason. The same command pending for the same server is not stored twice (the
    pending one is returned); ProposalRefused (not stored) when PENDING_PER_ALERT already wait."""
    now = utcnow()
    server_row = await registered_server(session, server)
    in_force = await policy_store.current(session)
    if server_row is None:
        verdict_text, allowed, group, runs = f"no registered server is named {server[:100]!r}", False, "", ""
    elif in_force.broken:
        verdict_text, allowed, group, runs = in_force.broken, False, "", ""
    else:
        verdict = check_command(
            in_force.policy, command, server_name=server_row.name, environment=server_row.environment
        )
        verdict_text, allowed, group, runs = verdict.reason, verdict.allowed, verdict.group, verdict.command
    if allowed and server_row is not None:
        same = await session.exec(
            select(DiagnosticProposal).where(
                col(DiagnosticProposal.alert_id) == alert_id,
                col(DiagnosticProposal.server_id) == server_row.id,
                col(DiagnosticProposal.command) == runs,
                col(DiagnosticProposal.status) == ProposalStatus.PENDING.value,
                col(DiagnosticProposal.expires_at) > now,
            )
        )
        if (existing := same.first()) is not None:
            return existing
        if await _pending_count(session, alert_id) >= PENDING_PER_ALERT:
            raise ProposalRefused(f"{PENDING_PER_ALERT} proposals already wait for a person on this alert", 429)
    shown = storable_text(command[: MAX_COMMAND_CHARS * 2])
    row = DiagnosticProposal(
        alert_id=alert_id,
        origin=origin.kind,
        job_id=origin.job_id,
        conversation_id=origin.conversation_id,
        tool_call_id=storable_text(tool_call_id[:100]),
        server_id=server_row.id if server_row is not None else None,
        server_name=storable_text(server_row.name if server_row is not None else server[:100]),
        command=runs if allowed else shown,
        proposed=shown if allowed and shown != runs else "",
        reason=storable_text(reason.strip()[:REASON_MAX]),
        status=ProposalStatus.PENDING.value if allowed else ProposalStatus.REFUSED.value,
        verdict=storable_text(verdict_text),
        policy_group=group[:100],
        policy_version=in_force.version,
        created_at=now,
        expires_at=now + timedelta(minutes=get_settings().proposal_expiry_minutes),
    )
    session.add(row)
    await session.flush()
    audit.record(
        session,
        action="diagnostics.propose",
        actor=f"model:{origin.kind}",
        target=row.server_name,
        success=allowed,
        details={"proposal": row.id, "alert": alert_id, "command": row.command[:500], "verdict": verdict_text[:500]},
    )
    if allowed:  # it waits for a person: the routes that want "proposal waiting" hear of it
        await notify_events.proposal_waiting(session, row)
    return row


async def _decide(
    session: AsyncSession, proposal_id: int, *, user: User, note: str | None, address: str, approve: bool
) -> DiagnosticProposal:
    what = "approve" if approve else "reject"
    note = check_note(note)
    row = await session.get(DiagnosticProposal, proposal_id)
    if row is None:
        raise ProposalRefused("no such proposal", 404)

    def refused(message: str, status: int, code: str) -> ProposalRefused:
        audit.record(
            session,
            action=f"diagnostics.{what}",
            actor=user,
            target=row.server_name,
            address=address,
            success=False,
            details={"proposal": row.id, "reason": code, "command": row.command[:500]},
        )
        return ProposalRefused(message, status)

    server = await session.get(SSHServer, row.server_id) if row.server_id is not None else None
    if row.status == ProposalStatus.PENDING.value:
        if server is None:
            raise refused(f"the server {row.server_name!r} no longer exists", 409, "unknown_server")
        if not may_open(server, user):
            raise refused(f"your role may not run commands on {server.name}", 403, "role")
    now = utcnow()
    values: dict[str, Any] = {
        "status": (ProposalStatus.APPROVED if approve else ProposalStatus.REJECTED).value,
        "decided_by": user.username[:150],
        "decided_by_user_id": user.id,
        "decided_at": now,
        "note": note,
    }
    if approve:
        assert server is not None or row.status != ProposalStatus.PENDING.value
        if server is not None and not server.host_key:
            raise refused(f"{server.name}'s host key is not accepted yet (an admin does that)", 409, "no_host_key")
        in_force = await policy_store.current(session)
        name, environment = (server.name, server.environment) if server is not None else (row.server_name, "")
        verdict = check_command(in_force.policy, row.command, server_name=name, environment=environment)
        if row.status == ProposalStatus.PENDING.value and (not verdict.allowed or verdict.command != row.command):
            raise refused(
                f"the policy in force now (version {in_force.version}) refuses it: {verdict.reason}", 409, "policy"
            )
    else:
        values["continuation"] = "wanted"  # the rejection and its note go back to the model
    changed = await session.exec(
        sa.update(PROPOSALS)
        .where(
            PROPOSALS.c.id == row.id,
            PROPOSALS.c.status == ProposalStatus.PENDING.value,
            PROPOSALS.c.expires_at > now,
        )
        .values(**values)
    )
    await session.refresh(row)
    if not changed.rowcount:
        if row.status == ProposalStatus.PENDING.value:  # past its time, not swept yet
            await expire_due(session)
            await session.refresh(row)
        raise refused(f"this proposal {_TOO_LATE.get(row.status, row.status)}", 409, f"not_pending:{row.status}")
    audit.record(
        session,
        action=f"diagnostics.{what}",
        actor=user,
        target=row.server_name,
        address=address,
        details={"proposal": row.id, "alert": row.alert_id, "command": row.command[:500], "note": note[:300]},
    )
    return row


async def approve(
    session: AsyncSession, proposal_id: int, *, user: User, note: str | None = None, address: str = ""
) -> DiagnosticProposal:
    """Approve a pending proposal (ProposalRefused: 404, 403 without the server's role, 409 when it is
    not pending any more, expired, or refused by the policy in force now)."""
    return await _decide(session, proposal_id, user=user, note=note, address=address, approve=True)


async def reject(
    session: AsyncSession, proposal_id: int, *, user: User, note: str | None = None, address: str = ""
) -> DiagnosticProposal:
    """Reject a pending proposal, with an optional note that goes back to the model."""
    return await _decide(session, proposal_id, user=user, note=note, address=address, approve=False)


async def expire_due(session: AsyncSession) -> list[int]:
    """Expire the pending proposals past their time; returns their alerts' ids."""
    now = utcnow()
    rows = await session.exec(
        sa.update(PROPOSALS)
        .where(PROPOSALS.c.status == ProposalStatus.PENDING.value, PROPOSALS.c.expires_at <= now)
        .values(status=ProposalStatus.EXPIRED.value, decided_at=now)
        .returning(PROPOSALS.c.alert_id)
    )
    return [r[0] for r in rows.all()]


async def proposals_for(session: AsyncSession, alert_id: int, *, limit: int = LIST_MAX) -> list[DiagnosticProposal]:
    rows = await session.exec(
        select(DiagnosticProposal)
        .where(col(DiagnosticProposal.alert_id) == alert_id)
        .order_by(col(DiagnosticProposal.created_at).desc(), col(DiagnosticProposal.id).desc())
        .limit(max(1, min(limit, LIST_MAX)))
    )
    return list(rows.all())


async def waiting_count(session: AsyncSession) -> int:
    """Proposals waiting for a person, across all alerts (not expired)."""
    found = await session.exec(
        select(func.count())
        .select_from(DiagnosticProposal)
        .where(col(DiagnosticProposal.status) == "pending", col(DiagnosticProposal.expires_at) > utcnow())
    )
    return int(found.one())


FINISHED = (ProposalStatus.DONE.value, ProposalStatus.FAILED.value)


def proposal_public(row: DiagnosticProposal) -> dict[str, Any]:
    """One proposal as the API and the page show it: the output (redacted) once it ran."""
    ran = row.status in FINISHED
    return {
        **columns(row, "id", "alert_id", "origin", "command", "proposed", "reason", "status", "verdict"),
        "server": row.server_name,
        **columns(row, "policy_group", "policy_version", "decided_by", "note", "exit_status", "timed_out"),
        **columns(row, "truncated", "output_bytes", "output_sha256", "error"),
        "output": row.stdout if ran else None,
        "stderr": row.stderr if ran else None,
        "created_at": isoformat(row.created_at),
        "expires_at": isoformat(row.expires_at),
        "decided_at": isoformat(row.decided_at),
        "started_at": isoformat(row.started_at),
        "finished_at": isoformat(row.finished_at),
    }
