"""An incident's timeline, read from what the other tables already record, merged in time order:
the notifications that carried its alerts, analyses (queued, finished, failed, cancelled), questions
asked in the chat, terminal sessions opened from its alerts, commands the model proposed (and what a
person decided, and how they ran), silences and acks, and its opening and resolution.

Bounded: each source gives at most PER_SOURCE of its latest rows, and the timeline keeps the latest
TIMELINE_MAX items (saying that earlier ones were left out). A chat is one user's: the timeline says
who asked about which alert, never what was asked. Alert text (alert names) is untrusted: pages show
it as text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.models import (
    Alert,
    AlertNotification,
    AnalysisJob,
    ChatMessage,
    Conversation,
    DiagnosticProposal,
    Incident,
    JobStatus,
    Notification,
    Silence,
    TerminalSession,
)

PER_SOURCE = 200
TIMELINE_MAX = 300
TEXT_MAX = 300
KINDS = ("opened", "notification", "analysis", "chat", "terminal", "proposal", "silence", "ack", "resolved")


@dataclass(frozen=True)
class TimelineItem:
    at: datetime
    kind: str  # one of KINDS
    text: str
    who: str = ""
    link: str = ""  # a page of the app ("/alerts/12"), or ""

    def public(self) -> dict[str, str]:
        return {"at": self.at.isoformat(), "kind": self.kind, "text": self.text, "who": self.who, "link": self.link}


@dataclass(frozen=True)
class Timeline:
    items: list[TimelineItem]
    truncated: bool  # earlier items were left out


def _cut(text: str, limit: int = TEXT_MAX) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _alerts(count: int) -> str:
    return f"{count} alert" if count == 1 else f"{count} alerts"


def _alert_link(alert_id: int | None) -> str:
    return f"/alerts/{alert_id}" if alert_id else ""


def _latest(statement: Any, at: Any) -> Any:
    return statement.order_by(col(at).desc()).limit(PER_SOURCE)


async def _notifications(session: AsyncSession, alert_ids: Any) -> list[TimelineItem]:
    carried = select(AlertNotification.notification_id).where(col(AlertNotification.alert_id).in_(alert_ids))
    rows = await session.exec(
        _latest(select(Notification).where(col(Notification.id).in_(carried)), Notification.received_at)
    )
    return [
        TimelineItem(
            n.received_at,
            "notification",
            f"Notification ({_cut(n.status, 16) or 'no status'}): {_alerts(n.alert_count)}",
            who=_cut(n.receiver, 100),
        )
        for n in rows.all()
    ]


def _job_items(job: AnalysisJob, alertname: str) -> list[TimelineItem]:
    group = job.incident_id is not None
    what = "Group analysis (storm control)" if group else f"Analysis of {_cut(alertname, 200)}"
    link = _alert_link(job.alert_id)
    items = [TimelineItem(job.created_at, "analysis", f"{what} queued", who=_cut(job.requested_by, 150), link=link)]
    if job.finished_at is not None:
        ended = {
            JobStatus.SUCCEEDED.value: "done",
            JobStatus.FAILED.value: f"failed: {_cut(job.last_error, 200)}",
            JobStatus.CANCELLED.value: f"cancelled: {_cut(job.last_error, 200)}",
        }.get(job.status, job.status)
        items.append(TimelineItem(job.finished_at, "analysis", f"{what} {ended}", link=link))
    return items


async def _analyses(session: AsyncSession, incident_id: int, alert_ids: Any) -> list[TimelineItem]:
    rows = await session.exec(
        _latest(
            select(AnalysisJob, Alert.alertname)
            .join(Alert, col(Alert.id) == col(AnalysisJob.alert_id))
            .where((col(AnalysisJob.alert_id).in_(alert_ids)) | (col(AnalysisJob.incident_id) == incident_id)),
            AnalysisJob.created_at,
        )
    )
    return [item for job, alertname in rows.all() for item in _job_items(job, alertname)]


async def _questions(session: AsyncSession, alert_ids: Any) -> list[TimelineItem]:
    rows = await session.exec(
        _latest(
            select(ChatMessage.created_at, Conversation.username, Conversation.alert_id, Alert.alertname)
            .join(Conversation, col(Conversation.id) == col(ChatMessage.conversation_id))
            .join(Alert, col(Alert.id) == col(Conversation.alert_id))
            .where(col(Conversation.alert_id).in_(alert_ids), col(ChatMessage.role) == "user"),
            ChatMessage.created_at,
        )
    )
    return [
        TimelineItem(at, "chat", f"Asked the assistant about {_cut(name, 200)}", who=user, link=_alert_link(alert_id))
        for at, user, alert_id, name in rows.all()
    ]


async def _terminals(session: AsyncSession, alert_ids: Any) -> list[TimelineItem]:
    rows = await session.exec(
        _latest(select(TerminalSession).where(col(TerminalSession.alert_id).in_(alert_ids)), TerminalSession.started_at)
    )
    items = []
    for s in rows.all():
        server, link = _cut(s.server_name, 100) or "a server", _alert_link(s.alert_id)
        items.append(
            TimelineItem(s.started_at, "terminal", f"Opened a terminal on {server}", who=s.username, link=link)
        )
        if s.ended_at is not None:
            reason = f" ({_cut(s.close_reason, 100)})" if s.close_reason else ""
            items.append(
                TimelineItem(s.ended_at, "terminal", f"Closed the terminal on {server}{reason}", who=s.username)
            )
    return items


async def _proposals(session: AsyncSession, alert_ids: Any) -> list[TimelineItem]:
    rows = await session.exec(
        _latest(
            select(DiagnosticProposal).where(col(DiagnosticProposal.alert_id).in_(alert_ids)),
            DiagnosticProposal.created_at,
        )
    )
    items = []
    for p in rows.all():
        command, link = _cut(p.command, 200), _alert_link(p.alert_id)
        server = _cut(p.server_name, 100) or "a server"
        items.append(TimelineItem(p.created_at, "proposal", f"Proposed on {server}: {command}", link=link))
        if p.decided_at is not None and p.decided_by:
            decided = "Rejected" if p.status == "rejected" else "Approved"
            items.append(TimelineItem(p.decided_at, "proposal", f"{decided}: {command}", who=p.decided_by, link=link))
        if p.finished_at is not None:
            ended = f"exit status {p.exit_status}" if p.exit_status is not None else _cut(p.error, 100) or p.status
            items.append(TimelineItem(p.finished_at, "proposal", f"Ran on {server} ({ended}): {command}", link=link))
    return items


async def _silences(session: AsyncSession, alert_ids: Any) -> list[TimelineItem]:
    rows = await session.exec(
        _latest(
            select(Silence, Alert.alertname)
            .join(Alert, col(Alert.id) == col(Silence.alert_id))
            .where(col(Silence.alert_id).in_(alert_ids)),
            Silence.created_at,
        )
    )
    items = []
    for s, name in rows.all():
        kind = "ack" if s.kind == "ack" else "silence"
        alert, link = _cut(name, 200), _alert_link(s.alert_id)
        if kind == "ack":
            text = f"Acknowledged {alert}"
        else:
            comment = f": {_cut(s.comment)}" if s.comment else ""
            text = f"Silenced {alert} until {s.ends_at:%Y-%m-%d %H:%M} UTC{comment}"
        items.append(TimelineItem(s.created_at, kind, text, who=s.created_by, link=link))
        if s.expired_at is not None:
            ended = "Ack ended" if kind == "ack" else "Silence expired"
            items.append(TimelineItem(s.expired_at, kind, f"{ended} ({alert})", who=s.expired_by, link=link))
    return items


async def incident_timeline(session: AsyncSession, incident: Incident, *, limit: int = TIMELINE_MAX) -> Timeline:
    """The incident's timeline, oldest first, at most `limit` items (the latest ones)."""
    assert incident.id is not None
    alert_ids = select(Alert.id).where(col(Alert.incident_id) == incident.id)
    items = [TimelineItem(incident.opened_at, "opened", f"Incident opened: {_cut(incident.title)}")]
    items += await _notifications(session, alert_ids)
    items += await _analyses(session, incident.id, alert_ids)
    items += await _questions(session, alert_ids)
    items += await _terminals(session, alert_ids)
    items += await _proposals(session, alert_ids)
    items += await _silences(session, alert_ids)
    if incident.resolved_at is not None:
        items.append(TimelineItem(incident.resolved_at, "resolved", "Resolved: none of its alerts fires"))
    # Stable: what happened at the same instant keeps the order above (opened first, resolved last).
    items.sort(key=lambda item: item.at)
    limit = max(1, limit)
    return Timeline(items=items[-limit:], truncated=len(items) > limit)
