"""Running one approved command: a plain SSH exec (no PTY, stdin closed at once) on the server with its
pinned host key (services/terminal/connection.py: a changed key refuses, as in the terminal), within a
time limit and an output cap. Past either the command is signalled and its channel closed; what came
back so far is kept.

The output is decoded (UTF-8, bad bytes replaced), its size and SHA-256 taken as received, and then
redacted like evidence (services/investigation/redaction.py) before it is stored or shown to anyone.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from dataclasses import dataclass
from typing import Any

import asyncssh

from remediation_app.models import SSHServer
from remediation_app.services.investigation.redaction import Redactor
from remediation_app.services.terminal.connection import connect
from remediation_app.services.terminal.tickets import TerminalRefused
from remediation_app.services.text import storable_text

log = logging.getLogger(__name__)
READ_SIZE = 16_384
REDACT_IN_THREAD = 32_000
CLOSE_WAIT_S = 2.0


@dataclass
class RunResult:
    exit_status: int | None = None
    stdout: str = ""  # decoded and redacted
    stderr: str = ""
    output_bytes: int = 0  # received, stdout and stderr together (at most the cap)
    output_sha256: str = ""  # of stdout's bytes followed by stderr's, as received
    timed_out: bool = False
    truncated: bool = False
    error: str = ""  # could not connect or run (a refusal the user can read)
    code: str = ""  # the refusal's kind, for the audit log (host_key_changed, auth, unreachable...)
    duration_ms: int = 0
    redactions: int = 0

    @property
    def ran(self) -> bool:
        """It ran and ended by itself, or was cut at the output cap (not: could not run, timed out)."""
        return not self.error and not self.timed_out


class _Capture:
    """stdout and stderr, read until EOF or until both together reach `limit` bytes."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.out = bytearray()
        self.err = bytearray()
        self.full = asyncio.Event()

    async def pump(self, stream: Any, into: bytearray) -> None:
        while True:
            chunk = await stream.read(READ_SIZE)
            if not chunk:
                return
            room = self.limit - len(self.out) - len(self.err)
            into += chunk[: max(room, 0)]
            if len(chunk) >= room:
                self.full.set()
                return


async def _redacted(text: str, redactor: Redactor) -> str:
    if len(text) > REDACT_IN_THREAD:
        return await asyncio.to_thread(redactor.redact, text)
    return redactor.redact(text)


async def _exec(
    conn: asyncssh.SSHClientConnection, command: str, capture: _Capture, limit_s: float
) -> tuple[int | None, bool]:
    """Run `command`; (its exit status or None, whether the time limit cut it)."""
    process = await conn.create_process(command, encoding=None, request_pty=False, stdin=asyncssh.DEVNULL)
    pumps = [
        asyncio.create_task(capture.pump(process.stdout, capture.out)),
        asyncio.create_task(capture.pump(process.stderr, capture.err)),
    ]
    full: asyncio.Future[Any] = asyncio.create_task(capture.full.wait())
    both: asyncio.Future[Any] = asyncio.gather(*pumps)
    timed_out = False
    try:
        done, _ = await asyncio.wait([full, both], timeout=limit_s, return_when=asyncio.FIRST_COMPLETED)
        timed_out = not done
        if not done or capture.full.is_set():
            # Stop it: a signal where the server takes one (OpenSSH does), then the channel closes.
            with contextlib.suppress(asyncssh.Error, OSError):
                process.send_signal("KILL")
            process.close()
        else:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(CLOSE_WAIT_S):
                    await process.wait_closed()
    finally:
        for waiting in (full, both, *pumps):
            waiting.cancel()
        await asyncio.gather(full, both, *pumps, return_exceptions=True)
    return (None if timed_out or capture.full.is_set() else process.exit_status), timed_out


async def run_command(server: SSHServer, command: str, *, limit_s: float, max_bytes: int) -> RunResult:
    """Run `command` once on `server`. Never raises for the server's faults (they are `error`)."""
    started = time.monotonic()
    result = RunResult()
    capture = _Capture(max_bytes)
    try:
        conn = await connect(server)
    except TerminalRefused as exc:
        result.error, result.code = str(exc), exc.code
        return result
    try:
        async with conn:
            result.exit_status, result.timed_out = await _exec(conn, command, capture, limit_s)
    except (asyncssh.Error, OSError) as exc:
        reason = exc.reason if isinstance(exc, asyncssh.Error) else (exc.strerror or str(exc))
        result.error, result.code = f"SSH error from {server.name} while running: {reason}", "ssh"
    result.duration_ms = int((time.monotonic() - started) * 1000)
    result.truncated = capture.full.is_set()
    if result.timed_out:
        result.error = f"no result within the time limit of {limit_s:g} s: stopped"
    result.output_bytes = len(capture.out) + len(capture.err)
    result.output_sha256 = hashlib.sha256(bytes(capture.out) + bytes(capture.err)).hexdigest()
    redactor = Redactor()
    result.stdout = await _redacted(storable_text(capture.out.decode("utf-8", "replace")), redactor)
    result.stderr = await _redacted(storable_text(capture.err.decode("utf-8", "replace")), redactor)
    result.redactions = redactor.total
    return result
