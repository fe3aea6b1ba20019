"""Browser terminals: the bridge from a WebSocket to an AsyncSSH PTY, with flow control.

Protocol on the WebSocket (same origin, /ws/terminal?ticket=...):
- browser -> server, text frames of JSON: {"type": "input", "data": "..."},
  {"type": "resize", "cols": C, "rows": R}, {"type": "ack", "bytes": N} (N bytes of output written
  to the screen since the last ack);
- server -> browser: binary frames of terminal output, and text frames of JSON:
  {"type": "ready", "session_id": N, "server": "..."}, {"type": "exit", "status": S, "reason": "..."},
  {"type": "error", "message": "..."}.

Flow control (the xterm.js guide's watermarks): the server stops reading from SSH while more than
HIGH_WATER bytes are sent but not acknowledged and resumes below LOW_WATER. SSH's own window (kept
small) then holds the remote program back, so `yes` or `cat` of a huge file cannot grow server
memory, and Ctrl-C reaches the PTY at once (input is never queued behind output).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

import asyncssh

from remediation_app.db import TRANSIENT_DB_ERRORS, async_session
from remediation_app.models import User, utcnow
from remediation_app.services import audit, metrics
from remediation_app.services.terminal.connection import connect
from remediation_app.services.terminal.recording import Recorder
from remediation_app.services.terminal.sessions import (
    HEARTBEAT_S,
    audit_open,
    finish_record,
    forget_record,
    open_sessions,
    start_record,
    update_record,
)
from remediation_app.services.terminal.tickets import (
    LOGIN_CHECK_S,
    LOGIN_ENDED,
    Grant,
    TerminalRefused,
    grant_still_valid,
)
from remediation_app.settings import get_settings

log = logging.getLogger(__name__)
HIGH_WATER = 256 * 1024
LOW_WATER = 64 * 1024
SSH_WINDOW = 128 * 1024
READ_SIZE = 32 * 1024
MAX_MESSAGE = 64 * 1024
# Input the remote side has not taken yet (its program reads nothing): beyond this, input is dropped.
MAX_PENDING_INPUT = 1024 * 1024
TERM = "xterm-256color"


class Socket(Protocol):
    """What the bridge needs of a WebSocket (Starlette's fits)."""

    async def receive_text(self) -> str: ...
    async def send_bytes(self, data: bytes) -> None: ...
    async def send_text(self, data: str) -> None: ...


async def receive_text(socket: Socket) -> str | None:
    """The next text frame; None for a binary frame (not part of the protocol: ignored, the session
    goes on). Starlette's receive_text raises KeyError on one; a disconnect still raises."""
    try:
        raw = await socket.receive_text()
    except KeyError:
        return None
    return raw if isinstance(raw, str) else None


@dataclass
class Bridge:
    """One open terminal: pumps output (flow-controlled) and input until either side ends."""

    socket: Socket
    process: asyncssh.SSHClientProcess[bytes]
    recorder: Recorder
    session_id: int
    grant: Grant | None = None
    bytes_in: int = 0
    bytes_out: int = 0
    unacked: int = 0
    last_input: float = 0.0
    reason: str = ""
    remote_closed: bool = False

    def __post_init__(self) -> None:
        self._acked = asyncio.Event()
        self._acked.set()
        self.last_input = time.monotonic()

    async def pump_output(self) -> None:
        while True:
            if self.unacked > HIGH_WATER:
                self._acked.clear()
                await self._acked.wait()  # the remote waits too: SSH's window stays closed
            data = await self.process.stdout.read(READ_SIZE)
            if not data:
                self.reason = self.reason or "the remote side closed the session"
                self.remote_closed = True
                return
            self.unacked += len(data)
            self.bytes_out += len(data)
            self.recorder.output(data)
            await self.socket.send_bytes(data)
            if self.recorder.full:
                await self.recorder.flush()  # here, not later: the recording's buffer stays one chunk

    async def pump_input(self) -> None:
        while True:
            raw = await receive_text(self.socket)
            if raw is None or len(raw) > MAX_MESSAGE:
                continue  # a paste larger than this is dropped, not half-sent
            try:
                message = json.loads(raw)
            except (ValueError, RecursionError):
                continue
            if not isinstance(message, dict):
                continue
            kind = message.get("type")
            if kind == "input" and isinstance(message.get("data"), str):
                data = message["data"]
                self.last_input = time.monotonic()
                if self.process.stdin.channel.get_write_buffer_size() > MAX_PENDING_INPUT:
                    continue  # the remote program reads nothing: typing more must not fill our memory
                encoded = data.encode(errors="replace")
                self.bytes_in += len(encoded)
                self.recorder.input(data)
                self.process.stdin.write(encoded)
            elif kind == "resize":
                cols, rows = message.get("cols"), message.get("rows")
                if isinstance(cols, int) and isinstance(rows, int) and 2 <= cols <= 1000 and 1 <= rows <= 500:
                    self.process.change_terminal_size(cols, rows)
                    self.recorder.resize(cols, rows)
            elif kind == "ack" and isinstance(message.get("bytes"), int):
                self.unacked = max(0, self.unacked - max(0, message["bytes"]))
                if self.unacked < LOW_WATER:
                    self._acked.set()

    async def housekeeping(self) -> None:
        """Idle timeout, the login check, recording flushes and the session's heartbeat."""
        idle = get_settings().terminal_idle_minutes * 60
        last_beat = last_login_check = time.monotonic()
        while True:
            await asyncio.sleep(0.5)
            if time.monotonic() - self.last_input > idle:
                self.reason = f"closed after {idle / 60:g} minutes without input"
                return
            try:
                if self.grant is not None and time.monotonic() - last_login_check >= LOGIN_CHECK_S:
                    last_login_check = time.monotonic()
                    if not await grant_still_valid(self.grant):
                        self.reason = LOGIN_ENDED
                        return
                if self.recorder.due:
                    await self.recorder.flush()
                if time.monotonic() - last_beat >= HEARTBEAT_S:
                    last_beat = time.monotonic()
                    await update_record(
                        self.session_id, heartbeat_at=utcnow(), bytes_in=self.bytes_in, bytes_out=self.bytes_out
                    )
            except TRANSIENT_DB_ERRORS:
                log.warning("terminal session %s: database unavailable; retrying", self.session_id)


async def refuse(
    socket: Socket, refusal: TerminalRefused, *, user: User | str | None, target: str, address: str
) -> None:
    """Tell the browser why, and audit it."""
    async with async_session() as session:
        audit.record(
            session,
            action="terminal.refused",
            actor=user,
            target=target,
            address=address,
            success=False,
            details={"reason": refusal.code, "message": str(refusal)},
        )
        await session.commit()
    with contextlib.suppress(Exception):
        await socket.send_text(json.dumps({"type": "error", "message": str(refusal)}))


async def run_terminal(
    socket: Socket,
    grant: Grant,
    *,
    cols: int,
    rows: int,
    address: str,
    worker: str,
    on_ready: Callable[[int], Awaitable[None]] | None = None,
) -> None:
    """Open the SSH PTY and bridge it to the socket until either side ends; record and audit it."""
    settings = get_settings()
    assert grant.user.id is not None
    # The session row is written first and counted with the others: terminals opened at the same
    # instant cannot together pass the limit (at worst they refuse each other).
    session_id = await start_record(grant, worker, address)
    if await open_sessions(grant.user.id) > settings.terminal_max_sessions_per_user:
        await forget_record(session_id)
        limit = settings.terminal_max_sessions_per_user
        refusal = TerminalRefused(f"you have {limit} terminals open already; close one first", "too_many_sessions")
        await refuse(socket, refusal, user=grant.user, target=grant.server.name, address=address)
        return
    try:
        conn = await connect(grant.server)
    except BaseException as exc:
        await forget_record(session_id)
        if isinstance(exc, TerminalRefused):
            await refuse(socket, exc, user=grant.user, target=grant.server.name, address=address)
            return
        raise
    await audit_open(grant, session_id, address)
    recorder = Recorder(session_id, cols=cols, rows=rows, max_bytes=settings.terminal_recording_max_mb * 1024 * 1024)
    exit_status: int | None = None
    reason = ""
    bridge: Bridge | None = None
    metrics.terminal_session_opened()
    try:
        async with conn:
            process = await conn.create_process(
                term_type=TERM, term_size=(cols, rows), encoding=None, window=SSH_WINDOW
            )
            bridge = Bridge(socket, process, recorder, session_id, grant)
            await socket.send_text(json.dumps({"type": "ready", "session_id": session_id, "server": grant.server.name}))
            if on_ready is not None:
                await on_ready(session_id)
            reason = await _bridge(bridge, session_id)
            if not bridge.remote_closed:
                process.close()
            # After the remote's EOF its exit status may still be on the way: wait for the channel.
            with contextlib.suppress(TimeoutError, asyncssh.Error, OSError):
                async with asyncio.timeout(2):
                    await process.wait_closed()
            exit_status = process.exit_status
    except (asyncssh.Error, OSError) as exc:
        reason = reason or f"SSH connection lost: {exc}"
    finally:
        metrics.terminal_session_closed()
        try:
            await recorder.close()
        finally:
            counts = (bridge.bytes_in, bridge.bytes_out) if bridge is not None else (0, 0)
            await finish_record(grant, session_id, counts, exit_status, reason, recorder, address)
    with contextlib.suppress(Exception):
        await socket.send_text(json.dumps({"type": "exit", "status": exit_status, "reason": reason}))


async def _bridge(bridge: Bridge, session_id: int) -> str:
    """Run the three pumps until one ends; why the session ended (for the record and the browser)."""
    tasks = {
        asyncio.create_task(bridge.pump_output(), name="terminal-out"),
        asyncio.create_task(bridge.pump_input(), name="terminal-in"),
        asyncio.create_task(bridge.housekeeping(), name="terminal-housekeeping"),
    }
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    reason = ""
    for task in done:
        exc = task.exception()
        if exc is not None and not reason:
            if _is_disconnect(exc):
                reason = "the browser closed the terminal"
            else:  # the details go to the log, not to the browser
                log.error("terminal session %s failed", session_id, exc_info=exc)
                reason = f"internal error ({type(exc).__name__}); the session was closed"
    return bridge.reason or reason or "closed"


def _is_disconnect(exc: BaseException) -> bool:
    return type(exc).__name__ in ("WebSocketDisconnect", "ClientDisconnected", "ConnectionClosed")
