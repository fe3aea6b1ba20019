"""Terminal recordings: asciicast v2 (a header line, then `[seconds, "o"|"i"|"r", data]` lines),
stored encrypted at rest in chunks (rotate-keys re-encrypts them like any other secret).

Memory stays bounded: events are buffered up to CHUNK_BYTES (or FLUSH_S) and then written as one
encrypted chunk. A session's recording stops at TERMINAL_RECORDING_MAX_MB with a marker event; the
session goes on.
"""

from __future__ import annotations

import asyncio
import codecs
import json
import logging
import re
import time
from collections.abc import AsyncIterator
from typing import Any

from sqlmodel import col, select

from remediation_app.crypto import decrypt, encrypt, record_name
from remediation_app.db import async_session
from remediation_app.models import TerminalRecordingChunk, TerminalSession

log = logging.getLogger(__name__)
CHUNK_BYTES = 64 * 1024
FLUSH_S = 2.0
TRUNCATED_NOTE = "\r\n[recording stopped: size limit reached; the session went on]\r\n"


class Recorder:
    """Collects one session's events; `flush()` stores what is buffered (call it from the session's loop)."""

    def __init__(self, session_id: int, *, cols: int, rows: int, max_bytes: int, started: float | None = None) -> None:
        self.session_id = session_id
        self.max_bytes = max_bytes
        self.started = started if started is not None else time.monotonic()
        self.total = 0
        self.truncated = False
        self._seq = 0
        self._writing = asyncio.Lock()
        self._pending: set[asyncio.Task[None]] = set()
        self._lines: list[str] = []
        self._buffered = 0
        self._last_flush = time.monotonic()
        # Output arrives as bytes that may split a UTF-8 character: decode incrementally.
        self._out = codecs.getincrementaldecoder("utf-8")(errors="replace")
        header = {
            "version": 2,
            "width": cols,
            "height": rows,
            "timestamp": int(time.time()),
            "env": {"TERM": "xterm-256color"},
        }
        self._add(json.dumps(header))

    def _add(self, line: str) -> None:
        if self.truncated:
            return
        size = len(line.encode()) + 1  # stored as UTF-8: the cap counts bytes, not characters
        if self.total + size > self.max_bytes:
            self.truncated = True
            line = json.dumps([self._elapsed(), "o", TRUNCATED_NOTE])
            size = len(line.encode()) + 1
        self._lines.append(line)
        self._buffered += size
        self.total += size

    def _elapsed(self) -> float:
        return round(time.monotonic() - self.started, 6)

    def output(self, data: bytes) -> None:
        text = self._out.decode(data)
        if text:
            self._add(json.dumps([self._elapsed(), "o", text], ensure_ascii=False))

    def input(self, text: str) -> None:
        self._add(json.dumps([self._elapsed(), "i", text], ensure_ascii=False))

    def resize(self, cols: int, rows: int) -> None:
        self._add(json.dumps([self._elapsed(), "r", f"{cols}x{rows}"]))

    @property
    def full(self) -> bool:
        return self._buffered >= CHUNK_BYTES

    @property
    def due(self) -> bool:
        return self._buffered >= CHUNK_BYTES or (bool(self._lines) and time.monotonic() - self._last_flush >= FLUSH_S)

    async def flush(self) -> None:
        if not self._lines:
            return
        text = "\n".join(self._lines) + "\n"
        # Taken before the first await: the output pump and the housekeeping task both flush.
        self._lines, self._buffered, self._last_flush = [], 0, time.monotonic()
        seq, self._seq = self._seq, self._seq + 1
        # The write runs as its own task, shielded: a flush cancelled mid-write (the browser closed
        # during heavy output) still stores its chunk; close() waits for it.
        write = asyncio.create_task(self._write(seq, text), name=f"recording-{self.session_id}-{seq}")
        self._pending.add(write)
        write.add_done_callback(self._pending.discard)
        await asyncio.shield(write)

    async def _write(self, seq: int, text: str) -> None:
        # The lock is FIFO and the tasks start in the order of their seq: chunks are stored in order.
        async with self._writing, async_session() as session:
            session.add(TerminalRecordingChunk(session_id=self.session_id, seq=seq, ciphertext=encrypt(text)))
            await session.commit()

    async def close(self) -> None:
        tail = self._out.decode(b"", final=True)
        if tail:
            self._add(json.dumps([self._elapsed(), "o", tail], ensure_ascii=False))
        try:
            await self.flush()
        finally:
            # Writes of cancelled flushes: done before the session's record is finished.
            for failed in await asyncio.gather(*self._pending, return_exceptions=True):
                if isinstance(failed, Exception):
                    log.warning("terminal session %s: a recording chunk was not stored: %r", self.session_id, failed)


async def read_recording(session_id: int) -> AsyncIterator[str]:
    """The recording's text (asciicast v2), chunk by chunk, decrypted (DecryptionError names the chunk)."""
    last = -1
    while True:
        async with async_session() as session:
            rows = await session.exec(
                select(TerminalRecordingChunk)
                .where(col(TerminalRecordingChunk.session_id) == session_id, col(TerminalRecordingChunk.seq) > last)
                .order_by(col(TerminalRecordingChunk.seq))
                .limit(16)
            )
            chunks = list(rows.all())
        if not chunks:
            return
        for chunk in chunks:
            record = record_name(TerminalRecordingChunk.__tablename__, chunk.id, "terminal recording")
            yield decrypt(chunk.ciphertext, record=record)
            last = chunk.seq


def parse_events(text: str) -> tuple[dict[str, Any], list[list[Any]]]:
    """A whole recording's header and events (for tests and the replay page)."""
    lines = [line for line in text.splitlines() if line.strip()]
    header = json.loads(lines[0]) if lines else {}
    return header, [json.loads(line) for line in lines[1:]]


# Terminal control sequences (colours, cursor moves, OSC titles) are noise to a model.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]|[\x00-\x08\x0b-\x1f\x7f]")


def plain_text(output: str) -> str:
    """Terminal output as a person reads it: escape sequences removed, carriage returns folded."""
    lines = [line.rsplit("\r", 1)[-1] for line in output.replace("\r\n", "\n").split("\n")]
    return "\n".join(_ANSI.sub("", line) for line in lines)


async def terminal_tail(
    user_id: int, *, alert_id: int | None = None, max_lines: int = 50, max_chars: int = 8000
) -> str:
    """The last lines the user's most recent terminal showed (for "attach terminal output" in the
    chat): from the recording, so it works whichever process runs the terminal (up to FLUSH_S old)."""
    async with async_session() as session:
        query = select(TerminalSession).where(col(TerminalSession.user_id) == user_id)
        if alert_id is not None:
            query = query.where(col(TerminalSession.alert_id) == alert_id)
        latest = (await session.exec(query.order_by(col(TerminalSession.id).desc()).limit(1))).first()
        if latest is None:
            return ""
        chunks = list(
            (
                await session.exec(
                    select(TerminalRecordingChunk)
                    .where(col(TerminalRecordingChunk.session_id) == latest.id)
                    .order_by(col(TerminalRecordingChunk.seq).desc())
                    .limit(2)
                )
            ).all()
        )
    output = []
    for chunk in reversed(chunks):
        text = decrypt(
            chunk.ciphertext, record=record_name(TerminalRecordingChunk.__tablename__, chunk.id, "terminal recording")
        )
        for line in text.splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, list) and len(event) == 3 and event[1] == "o":
                output.append(str(event[2]))
    lines = plain_text("".join(output)).rstrip().split("\n")[-max_lines:]
    return "\n".join(lines)[-max_chars:]
