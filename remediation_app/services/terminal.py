"""Browser terminals: one-time tickets, and the bridge from a WebSocket to an AsyncSSH PTY.

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
import hashlib
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

import asyncssh
import sqlalchemy as sa
from sqlmodel import col, func, select

from remediation_app.db import TRANSIENT_DB_ERRORS, async_session
from remediation_app.models import SSHServer, TerminalSession, TerminalTicket, User, utcnow
from remediation_app.services import audit, metrics
from remediation_app.services.crypto import DecryptionError
from remediation_app.services.recording import Recorder
from remediation_app.services.ssh_servers import credentials, may_open
from remediation_app.settings import get_settings

log = logging.getLogger(__name__)
TICKETS = TerminalTicket.__table__  # type: ignore[attr-defined]
HIGH_WATER = 256 * 1024
LOW_WATER = 64 * 1024
SSH_WINDOW = 128 * 1024
READ_SIZE = 32 * 1024
MAX_MESSAGE = 64 * 1024
# Input the remote side has not taken yet (its program reads nothing): beyond this, input is dropped.
MAX_PENDING_INPUT = 1024 * 1024
HEARTBEAT_S = 30.0
# How often an open terminal checks that the login which opened it still stands (logout,
# deactivation, role or password change end it within this time).
LOGIN_CHECK_S = 2.0
LOGIN_ENDED = "closed: the login that opened it ended (logout, deactivation, or a role or password change)"
CONNECT_TIMEOUT_S = 15.0
TERM = "xterm-256color"


class TerminalRefused(Exception):
    """Why a terminal cannot open, for the user (never a stack trace); `code` for the audit log."""

    def __init__(self, message: str, code: str, *, user: User | None = None, target: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.user = user  # whose ticket it was, when known (the audit event's actor)
        self.target = target


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def issue_ticket(user: User, server_id: int, alert_id: int | None = None) -> str:
    """A ticket for `user` to open `server_id` once, within TERMINAL_TICKET_SECONDS. Refused if the
    user may not open that server or its host key is not accepted yet."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    async with async_session() as session:
        server = await session.get(SSHServer, server_id)
        refusal = None
        if server is None:
            refusal = TerminalRefused("no such server", "unknown_server")
        elif not may_open(server, user):
            refusal = TerminalRefused(f"your role may not open {server.name}", "role")
        elif not server.host_key:
            refusal = TerminalRefused(
                f"{server.name}'s host key is not accepted yet (an admin does that)", "no_host_key"
            )
        if refusal is not None:
            audit.record(
                session,
                action="terminal.refused",
                actor=user,
                target=server.name if server else f"#{server_id}",
                success=False,
                details={"reason": refusal.code, "message": str(refusal)},
            )
            await session.commit()
            raise refusal
        assert server is not None and user.id is not None
        session.add(
            TerminalTicket(
                token_hash=_hash(token),
                user_id=user.id,
                token_version=user.token_version,
                server_id=server_id,
                alert_id=alert_id,
                expires_at=now + timedelta(seconds=get_settings().terminal_ticket_seconds),
                created_at=now,
            )
        )
        # Old tickets are of no use to anyone: keep the table small.
        await session.exec(sa.delete(TICKETS).where(TICKETS.c.expires_at < now - timedelta(hours=1)))
        await session.commit()
    return token


@dataclass(frozen=True)
class Grant:
    user: User
    server: SSHServer
    alert_id: int | None
    # The login that asked for the ticket: the terminal lives only as long as it does.
    token_version: int = 0


async def redeem_ticket(token: str) -> Grant:
    """Use a ticket (once): the user (checked again now) and the server it opens. A refusal names
    the ticket's owner and server when the ticket exists (for the audit log)."""
    if not token or len(token) > 200:
        raise TerminalRefused("no ticket", "no_ticket")
    now = utcnow()
    async with async_session() as session:
        row = (
            await session.exec(
                sa.update(TICKETS)
                .where(TICKETS.c.token_hash == _hash(token), TICKETS.c.used_at.is_(None), TICKETS.c.expires_at > now)
                .values(used_at=now)
                .returning(TICKETS.c.user_id, TICKETS.c.server_id, TICKETS.c.alert_id, TICKETS.c.token_version)
            )
        ).first()
        await session.commit()
        if row is None:
            ticket = (
                await session.exec(select(TerminalTicket).where(col(TerminalTicket.token_hash) == _hash(token)))
            ).first()
            if ticket is None:
                raise TerminalRefused("invalid or expired ticket", "bad_ticket")
            owner = await session.get(User, ticket.user_id)
            target = await session.get(SSHServer, ticket.server_id)
            name = target.name if target is not None else f"#{ticket.server_id}"
            if ticket.used_at is not None:
                raise TerminalRefused("this ticket was already used", "ticket_reused", user=owner, target=name)
            raise TerminalRefused("invalid or expired ticket", "bad_ticket", user=owner, target=name)
        user_id, server_id, alert_id, token_version = row
        user = await session.get(User, user_id)
        server = await session.get(SSHServer, server_id)
    name = server.name if server is not None else f"#{server_id}"
    if user is None or not user.is_active or user.token_version != token_version:
        # Logged out, deactivated, role or password changed since the ticket was issued.
        raise TerminalRefused("your login is no longer valid", "user", user=user, target=name)
    if server is None:
        raise TerminalRefused("the server was deleted", "unknown_server", user=user, target=name)
    if not may_open(server, user):
        raise TerminalRefused(f"your role may not open {server.name}", "role", user=user, target=name)
    if not server.host_key:  # unpinned since the ticket was issued (its host or port changed)
        raise TerminalRefused(
            f"{server.name}'s host key is not accepted (any more): an admin must accept it first",
            "no_host_key",
            user=user,
            target=name,
        )
    return Grant(user, server, alert_id, token_version)


async def grant_still_valid(grant: Grant) -> bool:
    """The login behind the terminal still stands and its role may still open the server."""
    async with async_session() as session:
        user = await session.get(User, grant.user.id)
        server = await session.get(SSHServer, grant.server.id)
    if user is None or not user.is_active or user.token_version != grant.token_version:
        return False
    return server is not None and may_open(server, user)


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


def _known_hosts(server: SSHServer) -> Any:
    """Trust exactly the pinned key (never the first key a host presents)."""
    key = asyncssh.import_public_key(server.host_key)
    return ([key], [], [])


class _PinnedKeyClient(asyncssh.SSHClient):
    """Remembers the host key a server presented when it was not the pinned one (AsyncSSH asks the
    client about a key outside known_hosts; the answer stays no), so the refusal can name it."""

    def __init__(self) -> None:
        self.presented = ""

    def validate_host_public_key(self, host: str, addr: str, port: int, key: asyncssh.SSHKey) -> bool:
        self.presented = key.get_fingerprint("sha256")
        return False


def _pinned_fingerprint(server: SSHServer) -> str:
    try:
        return str(asyncssh.import_public_key(server.host_key).get_fingerprint("sha256"))
    except (asyncssh.KeyImportError, ValueError):
        return server.host_key_fingerprint


def _refusal_of(exc: BaseException, server: SSHServer, presented: str = "") -> TerminalRefused:
    if isinstance(exc, asyncssh.HostKeyNotVerifiable):
        return TerminalRefused(
            f"{server.name} presented the host key {presented or '(unknown)'}, not the accepted "
            f"{_pinned_fingerprint(server)}: connection refused (if the server was reinstalled, an admin must "
            "fetch and accept the new key)",
            "host_key_changed",
        )
    if isinstance(exc, asyncssh.PermissionDenied):
        return TerminalRefused(f"{server.name} refused the login for {server.username}: wrong credentials", "auth")
    if isinstance(exc, TimeoutError):
        return TerminalRefused(f"no answer from {server.host}:{server.port}", "unreachable")
    if isinstance(exc, OSError):
        return TerminalRefused(f"cannot reach {server.host}:{server.port}: {exc.strerror or exc}", "unreachable")
    if isinstance(exc, DecryptionError):
        return TerminalRefused(f"{exc}; an admin must enter the credentials again", "decrypt")
    if isinstance(exc, asyncssh.Error):
        return TerminalRefused(f"SSH error from {server.name}: {exc.reason}", "ssh")
    return TerminalRefused(f"cannot open {server.name}: {type(exc).__name__}", "error")


async def connect(server: SSHServer) -> asyncssh.SSHClientConnection:
    """An SSH connection with the pinned host key and the stored credentials; TerminalRefused if not."""
    client = _PinnedKeyClient()
    try:
        secret = credentials(server)
        options: dict[str, Any] = {
            "username": server.username,
            "known_hosts": _known_hosts(server),
            "agent_path": None,
            "client_keys": None,
            "password": None,
            "config": None,
            "x509_trusted_certs": None,
            "preferred_auth": "publickey" if server.auth_method == "key" else "keyboard-interactive,password",
            "client_factory": lambda: client,
        }
        if server.auth_method == "key":
            # bcrypt-pbkdf of a passphrase-protected key takes a quarter second or more: off the loop.
            key = await asyncio.to_thread(asyncssh.import_private_key, secret.private_key, secret.passphrase or None)
            options["client_keys"] = [key]
        else:
            options["password"] = secret.password
        async with asyncio.timeout(CONNECT_TIMEOUT_S):
            return await asyncssh.connect(server.host, server.port, **options)
    except asyncssh.KeyEncryptionError:
        raise TerminalRefused(
            f"the stored private key of {server.name} does not open with its passphrase (an admin fixes that)", "key"
        ) from None
    except (OSError, TimeoutError, asyncssh.Error, DecryptionError, asyncssh.KeyImportError, ValueError) as exc:
        raise _refusal_of(exc, server, client.presented) from None


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
                    await _update_session(
                        self.session_id, heartbeat_at=utcnow(), bytes_in=self.bytes_in, bytes_out=self.bytes_out
                    )
            except TRANSIENT_DB_ERRORS:
                log.warning("terminal session %s: database unavailable; retrying", self.session_id)


async def _update_session(session_id: int, **values: Any) -> None:
    async with async_session() as session:
        await session.exec(sa.update(TerminalSession).where(col(TerminalSession.id) == session_id).values(**values))
        await session.commit()


async def _start_record(grant: Grant, worker: str, address: str) -> int:
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


async def _forget_record(session_id: int) -> None:
    """A reserved session that never opened (refused): no record, no place in the user's count."""
    async with async_session() as session:
        await session.exec(sa.delete(TerminalSession).where(col(TerminalSession.id) == session_id))
        await session.commit()


async def _audit_open(grant: Grant, session_id: int, address: str) -> None:
    async with async_session() as session:
        audit.record(
            session,
            action="terminal.open",
            actor=grant.user,
            target=grant.server.name,
            address=address,
            details={"session_id": session_id, "alert_id": grant.alert_id},
        )
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
    session_id = await _start_record(grant, worker, address)
    if await open_sessions(grant.user.id) > settings.terminal_max_sessions_per_user:
        await _forget_record(session_id)
        limit = settings.terminal_max_sessions_per_user
        refusal = TerminalRefused(f"you have {limit} terminals open already; close one first", "too_many_sessions")
        await refuse(socket, refusal, user=grant.user, target=grant.server.name, address=address)
        return
    try:
        conn = await connect(grant.server)
    except BaseException as exc:
        await _forget_record(session_id)
        if isinstance(exc, TerminalRefused):
            await refuse(socket, exc, user=grant.user, target=grant.server.name, address=address)
            return
        raise
    await _audit_open(grant, session_id, address)
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
            await _finish_record(grant, session_id, counts, exit_status, reason, recorder, address)
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


async def _finish_record(
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
        audit.record(
            session,
            action="terminal.close",
            actor=grant.user,
            target=grant.server.name,
            address=address,
            details={"session_id": session_id, "exit_status": exit_status, "reason": reason[:200]},
        )
        await session.commit()
