"""Terminal session records, newest first: the admins' listing on the API and on the sessions page.

The records themselves are written by services/terminal.py (open, bytes, close) and their
recordings by services/recording.py; this module only reads them.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.models import TerminalSession


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
        "id": row.id,
        "username": row.username,
        "server_id": row.server_id,
        "server": row.server_name,
        "alert_id": row.alert_id,
        "started_at": row.started_at.isoformat(),
        "ended_at": row.ended_at.isoformat() if row.ended_at else None,
        "bytes_in": row.bytes_in,
        "bytes_out": row.bytes_out,
        "exit_status": row.exit_status,
        "close_reason": row.close_reason,
        "recording_bytes": row.recording_bytes,
        "recording_truncated": row.recording_truncated,
    }
