"""One-time terminal tickets, and the checks that the login behind a terminal still stands.

A page (or the API) asks for a ticket with the login it has; the WebSocket redeems it once, and the
open terminal checks every LOGIN_CHECK_S that the login which asked for it is still valid.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from sqlmodel import col, select

from remediation_app.db import async_session
from remediation_app.models import SSHServer, TerminalTicket, User, utcnow
from remediation_app.services import audit
from remediation_app.services.terminal.servers import may_open
from remediation_app.settings import get_settings

TICKETS = TerminalTicket.__table__  # type: ignore[attr-defined]
# How often an open terminal checks that the login which opened it still stands (logout,
# deactivation, role or password change end it within this time).
LOGIN_CHECK_S = 2.0
LOGIN_ENDED = "closed: the login that opened it ended (logout, deactivation, or a role or password change)"


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
