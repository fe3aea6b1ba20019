"""Terminal session records: written as the bridge opens, beats and closes a session, listed newest
first for the admins (the API and the sessions page). Recordings are in recording.py.

A session's row is written before the SSH connection opens and counts towards the user's limit at
once; a process that dies stops the heartbeat, and close_abandoned_sessions ends its rows.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.db import async_session
from remediation_app.models import TerminalSession, utcnow
from remediation_app.services import audit
from remediation_app.services.records import columns, isoformat
from remediation_app.services.terminal.recording import Recorder
from remediation_app.services.terminal.tickets import Grant

HEARTBEAT_S = 30.0


async def count_sessions(session: AsyncSession) -> int:
    return int((await session.exec(select(func.count()).select_from(TerminalSession))).one())


async def list_sessions(session: AsyncSession, *, limit: int, offset: int) -> list[TerminalSession]:
    rows = await session.exec(
        select(TerminalSession)
        .order_by(col(TerminalSession.started_at).desc(), col(TerminalSession.id).desc())
        .limit(limit)
        .offset(offset)
    )
    return list(rows.all())


def session_public(row: TerminalSession) -> dict[str, Any]:
    return {
        **columns(row, "id", "username", "server_id", "alert_id", "bytes_in", "bytes_out", "exit_status"),
        **columns(row, "close_reason", "recording_bytes", "recording_truncated"),
        "server": row.server_name,
        "started_at": row.started_at.isoformat(),
        "ended_at": isoformat(row.ended_at),
    }


async def open_sessions(user_id: int) -> int:
    """The user's sessions that are open now (a process that died stops its heartbeat)."""
    stale = utcnow() - timedelta(seconds=HEARTBEAT_S * 3)
    async with async_session() as session:
        count = (
            await session.exec(
                select(func.count())
                .select_from(TerminalSession)
                .where(
                    col(TerminalSession.user_id) == user_id,
                    col(TerminalSession.ended_at).is_(None),
                    col(TerminalSession.heartbeat_at) >= stale,
                )
            )
        ).one()
    return int(count)


async def update_record(session_id: int, **values: Any) -> None:
    async with async_session() as session:
        await session.exec(sa.update(TerminalSession).where(col(TerminalSession.id) == session_id).values(**values))
        await session.commit()


async def start_record(grant: Grant, worker: str, address: str) -> int:
    now = utcnow()
    async with async_session() as session:
        row = TerminalSession(
            user_id=grant.user.id,
            username=grant.user.username,
            server_id=grant.server.id,
            server_name=grant.server.name,
            alert_id=grant.alert_id,
            started_at=now,
            heartbeat_at=now,
            worker=worker,
        )
        session.add(row)
        await session.commit()
        assert row.id is not None
        return row.id


async def forget_record(session_id: int) -> None:
    """A reserved session that never opened (refused): no record, no place in the user's count."""
    async with async_session() as session:
        await session.exec(sa.delete(TerminalSession).where(col(TerminalSession.id) == session_id))
        await session.commit()


def _audited(session: AsyncSession, grant: Grant, action: str, address: str, details: dict[str, Any]) -> None:
    """A terminal's audit event: who opened it on which server."""
    audit.record(session, action=action, actor=grant.user, target=grant.server.name, address=address, details=details)


async def audit_open(grant: Grant, session_id: int, address: str) -> None:
    async with async_session() as session:
        _audited(session, grant, "terminal.open", address, {"session_id": session_id, "alert_id": grant.alert_id})
        await session.commit()


async def close_abandoned_sessions() -> int:
    """Sessions whose process died (no heartbeat for three periods) get an end and a reason."""
    stale = utcnow() - timedelta(seconds=HEARTBEAT_S * 3)
    async with async_session() as session:
        result = await session.exec(
            sa.update(TerminalSession)
            .where(col(TerminalSession.ended_at).is_(None), col(TerminalSession.heartbeat_at) < stale)
            .values(ended_at=TerminalSession.heartbeat_at, close_reason="cut off: the process running it stopped")
        )
        await session.commit()
    return int(result.rowcount or 0)


async def finish_record(
    grant: Grant,
    session_id: int,
    counts: tuple[int, int],
    exit_status: int | None,
    reason: str,
    recorder: Recorder,
    address: str,
) -> None:
    async with async_session() as session:
        await session.exec(
            sa.update(TerminalSession)
            .where(col(TerminalSession.id) == session_id)
            .values(
                ended_at=utcnow(),
                bytes_in=counts[0],
                bytes_out=counts[1],
                exit_status=exit_status,
                close_reason=reason[:1000],
                recording_bytes=recorder.total,
                recording_truncated=recorder.truncated,
            )
        )
        details = {"session_id": session_id, "exit_status": exit_status, "reason": reason[:200]}
        _audited(session, grant, "terminal.close", address, details)
        await session.commit()
