"""What happened to an alert, as an outcome's form is prefilled with it: the commands entered in the
terminals opened from the alert's page (from their recordings), the diagnostics people approved and
that ran, and the silences and acks made for it.

Each command keeps its time: the fix's time (services/memory/outcomes.py) is that of its last command
whose time is known. Bounded: the newest SESSIONS_MAX sessions, RECORDING_READ_MAX characters of each
recording and READ_TOTAL_MAX of all (the input events are a sliver of a recording; the rest is
output), COMMANDS_MAX commands in all; decryption, the replay and the secret scan of anything large
run in worker threads.
Secrets the scanner recognises are replaced by placeholders before anything leaves this module.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import col, select

from remediation_app.crypto import DecryptionError, decrypt, record_name
from remediation_app.db import async_session
from remediation_app.models import (
    DiagnosticProposal,
    ProposalStatus,
    Role,
    Silence,
    TerminalRecordingChunk,
    TerminalSession,
    User,
)
from remediation_app.services.investigation.redaction import Redactor
from remediation_app.services.memory.typed import at_time, typed_lines

SESSIONS_MAX = 10
RECORDING_READ_MAX = 4 * 1024 * 1024  # characters of one recording read
READ_TOTAL_MAX = 8 * 1024 * 1024  # characters of all the recordings read
CHUNKS_AT_ONCE = 16  # recording chunks (64 KiB each at most) read and decrypted at a time
PARSE_ON_LOOP_MAX = 64 * 1024  # above this a recording is replayed in a worker thread
COMMANDS_MAX = 50
DIAGNOSTICS_MAX = 20
SILENCES_MAX = 10


@dataclass(frozen=True)
class TimedCommand:
    text: str
    at: datetime
    source: str  # terminal or diagnostic
    where: str  # "session 12 on web-1 (alice)", "diagnostic #4 on web-1"


@dataclass
class Happened:
    """What the form is prefilled with; `notes` are the silences and acks (text for the fix field)."""

    commands: list[TimedCommand] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # recordings that could not be read (why)

    def command_texts(self) -> list[str]:
        seen: dict[str, None] = {}
        for command in self.commands:
            seen.setdefault(command.text, None)
        return list(seen)

    def last_time_of(self, wanted: list[str]) -> TimedCommand | None:
        """The latest command among `wanted` (texts as kept in an outcome) whose time is known."""
        chosen = set(wanted)
        timed = [command for command in self.commands if command.text in chosen]
        return max(timed, key=lambda command: command.at) if timed else None


def _decrypted(chunks: list[TerminalRecordingChunk]) -> list[str]:
    return [
        decrypt(c.ciphertext, record=record_name(TerminalRecordingChunk.__tablename__, c.id, "terminal recording"))
        for c in chunks
    ]


async def _recording_text(session_id: int, budget: int) -> str:
    """The first `budget` characters of a session's recording, decrypted in a worker thread (a
    recording is up to TERMINAL_RECORDING_MAX_MB). DecryptionError names the chunk."""
    parts: list[str] = []
    size, last = 0, -1
    while size < budget:
        async with async_session() as session:
            rows = await session.exec(
                select(TerminalRecordingChunk)
                .where(col(TerminalRecordingChunk.session_id) == session_id, col(TerminalRecordingChunk.seq) > last)
                .order_by(col(TerminalRecordingChunk.seq))
                .limit(CHUNKS_AT_ONCE)
            )
            chunks = list(rows.all())
        if not chunks:
            break
        for text in await asyncio.to_thread(_decrypted, chunks):
            parts.append(text)
            size += len(text)
        last = chunks[-1].seq
    return "".join(parts)[:budget]


def _redact_lines(redactor: Redactor, texts: list[str]) -> list[str]:
    return [redactor.redact(text) for text in texts]


async def _terminal_commands(alert_id: int, redactor: Redactor, happened: Happened, viewer: User | None) -> None:
    mine = True if viewer is None or viewer.role == Role.ADMIN.value else col(TerminalSession.user_id) == viewer.id
    async with async_session() as session:
        rows = await session.exec(
            select(TerminalSession)
            .where(col(TerminalSession.alert_id) == alert_id, mine)
            .order_by(col(TerminalSession.started_at).desc(), col(TerminalSession.id).desc())
            .limit(SESSIONS_MAX)
        )
        sessions = list(reversed(rows.all()))
    budget = READ_TOTAL_MAX
    for row in sessions:
        assert row.id is not None
        if budget <= 0:
            happened.unreadable.append(f"session {row.id}: not read (the recordings read so far filled the budget)")
            continue
        try:
            text = await _recording_text(row.id, min(RECORDING_READ_MAX, budget))
        except DecryptionError as exc:
            happened.unreadable.append(f"session {row.id}: {exc}")
            continue
        budget -= len(text)
        lines = await asyncio.to_thread(typed_lines, text) if len(text) > PARSE_ON_LOOP_MAX else typed_lines(text)
        # The secret scan is linear too (about half a second a megabyte): many lines go to a thread.
        texts = [line.text for line in lines]
        if sum(map(len, texts)) > PARSE_ON_LOOP_MAX:
            texts = await asyncio.to_thread(_redact_lines, redactor, texts)
        else:
            texts = _redact_lines(redactor, texts)
        where = f"terminal session {row.id} on {row.server_name} ({row.username})"
        for line, redacted in zip(lines, texts, strict=True):
            happened.commands.append(TimedCommand(redacted, at_time(row.started_at, line), "terminal", where))


async def _diagnostics_and_silences(alert_id: int, redactor: Redactor, happened: Happened) -> None:
    async with async_session() as session:
        ran = await session.exec(
            select(DiagnosticProposal)
            .where(
                col(DiagnosticProposal.alert_id) == alert_id,
                col(DiagnosticProposal.status) == ProposalStatus.DONE.value,
            )
            .order_by(col(DiagnosticProposal.id).desc())
            .limit(DIAGNOSTICS_MAX)
        )
        diagnostics = list(reversed(ran.all()))
        made = await session.exec(
            select(Silence).where(col(Silence.alert_id) == alert_id).order_by(col(Silence.id)).limit(SILENCES_MAX)
        )
        silences = list(made.all())
    for row in diagnostics:
        when = row.finished_at or row.started_at or row.created_at
        where = f"diagnostic #{row.id} on {row.server_name}, approved by {row.decided_by}"
        happened.commands.append(TimedCommand(redactor.redact(row.command), when, "diagnostic", where))
    for silence in silences:
        until = silence.ends_at.strftime("%Y-%m-%d %H:%M UTC")
        if silence.kind == "ack":
            note = f"Acknowledged by {silence.created_by} (silenced until it resolved)"
        else:
            note = f"Silenced in Alertmanager by {silence.created_by} until {until}"
        comment = " ".join(silence.comment.split())[:300]
        happened.notes.append(redactor.redact(f"{note}: {comment}" if comment and silence.kind != "ack" else note))


async def what_happened(alert_id: int, viewer: User | None = None) -> Happened:
    """The alert's terminal commands, approved diagnostics and silences (see the module), oldest first.

    Recordings are for admins (docs/terminal.md): a `viewer` who is not an admin sees the commands of
    their own sessions only (a redaction can miss an inline password: `mysql -pS3cret`). None: the
    engine itself (the fix's time), nothing shown to anyone."""
    happened = Happened()
    redactor = Redactor()
    await _terminal_commands(alert_id, redactor, happened, viewer)
    await _diagnostics_and_silences(alert_id, redactor, happened)
    happened.commands.sort(key=lambda command: command.at)
    del happened.commands[:-COMMANDS_MAX]
    return happened
