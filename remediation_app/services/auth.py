"""Logins: password check with throttling, bounded hashing, tokens and their revocation."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import secrets
import time
from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

from sqlmodel import col, delete, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.db import async_session
from remediation_app.models import LoginAttempt, Role, User, utcnow
from remediation_app.services import audit, known_clients
from remediation_app.services.security import hash_password, pwd_context, verify_password
from remediation_app.services.tokens import Claims, TokenError, decode_token, issue_token
from remediation_app.settings import get_settings

T = TypeVar("T")
# The browser's session: an HttpOnly, SameSite=Strict cookie holding the JWT.
SESSION_COOKIE = "re_session"
MAX_USERNAME = 150
MAX_PASSWORD = 1024


class LoginError(Exception):
    """Base of the reasons a login is refused; `public` is what the user is told."""

    public = "invalid username or password"


class LoginInvalid(LoginError):
    """Unknown user, wrong password or deactivated account: one answer for all three."""


class LoginThrottled(LoginError):
    public = "too many failed attempts; try again later"


class LoginBusy(LoginError):
    public = "the server is busy; try again in a moment"


class Forbidden(Exception):
    """The user is logged in but their role does not allow this."""


class _HashingGate:
    """Argon2 takes 19 MiB and tens of milliseconds: a few at a time, in threads, with a bounded queue."""

    def __init__(self) -> None:
        # (event loop, concurrency limit, semaphore): a semaphore belongs to one loop, and a new loop
        # may get the id() of a closed one, so the loop itself is compared.
        self._current: tuple[asyncio.AbstractEventLoop, int, asyncio.Semaphore] | None = None
        self.waiting = 0

    def _semaphore(self) -> asyncio.Semaphore:
        loop, limit = asyncio.get_running_loop(), get_settings().login_hash_concurrency
        current = self._current
        if current is None or current[0] is not loop or current[1] != limit:
            current = self._current = (loop, limit, asyncio.Semaphore(limit))
        return current[2]

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        if self.waiting >= get_settings().login_max_waiting + get_settings().login_hash_concurrency:
            raise LoginBusy
        self.waiting += 1
        try:
            async with self._semaphore():
                return await asyncio.to_thread(fn, *args)
        finally:
            self.waiting -= 1


hashing = _HashingGate()


@functools.cache
def _dummy_hash() -> str:
    """Checked against when the user does not exist, so that both cases cost the same."""
    return hash_password(secrets.token_urlsafe(16))


async def _throttled(session: AsyncSession, *, username: str, address: str, known_client: str) -> bool:
    """Too many failures in the window (docs/security.md, "Login throttling"): of the account from
    this known client, or from all its unknown clients together; and, except for a client with the
    account's device cookie, from this address whatever the account."""
    settings = get_settings()
    since = utcnow() - timedelta(minutes=settings.login_window_minutes)
    failed = [col(LoginAttempt.success).is_(False), col(LoginAttempt.at) >= since]
    count = select(func.count()).select_from(LoginAttempt)
    by_client = count.where(
        col(LoginAttempt.username) == username, col(LoginAttempt.known_client) == known_client, *failed
    )
    if (await session.exec(by_client)).one() >= settings.login_max_failures_per_user:
        return True
    if known_clients.is_device(known_client):
        return False  # one account's browser, not someone trying many accounts from an address
    by_address = count.where(col(LoginAttempt.address) == address, *failed)
    return (await session.exec(by_address)).one() >= settings.login_max_failures_per_address


async def login(*, username: str, password: str, address: str, device: str | None = None) -> User:
    """The user, or LoginInvalid / LoginThrottled / LoginBusy. Every attempt is recorded and audited.
    `device` is the device cookie the browser sent, if any (see known_clients)."""
    username = username.strip()[:MAX_USERNAME]
    address = address[:64]
    async with async_session() as session:
        user = (await session.exec(select(User).where(col(User.username) == username))).first()
        known = await known_clients.identify(
            session, user_id=user.id if user is not None else None, address=address, device=device
        )
        client = {"client": known_clients.kind_of(known)}
        if await _throttled(session, username=username, address=address, known_client=known):
            audit.record(
                session, action="login.throttled", actor=username, address=address, success=False, details=client
            )
            await session.commit()
            raise LoginThrottled
        stored = user.password_hash if user is not None else _dummy_hash()
        ok = len(password) <= MAX_PASSWORD and await hashing.run(verify_password, password, stored)
        ok = ok and user is not None and user.is_active
        session.add(LoginAttempt(at=utcnow(), username=username, address=address, success=ok, known_client=known))
        await _prune_now_and_then(session)
        if not ok or user is None or user.id is None:
            audit.record(
                session, action="login.failure", actor=username, address=address, success=False, details=client
            )
            await session.commit()
            raise LoginInvalid
        await known_clients.remember_address(session, user_id=user.id, address=address)
        if pwd_context.needs_update(user.password_hash):
            # The password was right: if the gate is busy the login stands, the rehash waits for the next one.
            with contextlib.suppress(LoginBusy):
                user.password_hash = await hashing.run(hash_password, password)
        user.last_login_at = utcnow()
        session.add(user)
        audit.record(session, action="login.success", actor=user, address=address, details=client)
        await session.commit()
        return user


async def confirm_password(
    session: AsyncSession, *, user: User, password: str, address: str, device: str | None = None
) -> None:
    """A logged-in user proves they know their password (before changing it): throttled, bounded
    and recorded like a login, so a wrong password counts as a failed login attempt of that account
    from that client. Raises LoginThrottled, LoginBusy or LoginInvalid; the attempt is added to the
    session, and the caller commits it whether or not this raised."""
    address = address[:64]
    known = await known_clients.identify(session, user_id=user.id, address=address, device=device)
    if await _throttled(session, username=user.username, address=address, known_client=known):
        raise LoginThrottled
    ok = len(password) <= MAX_PASSWORD and await hashing.run(verify_password, password, user.password_hash)
    session.add(LoginAttempt(at=utcnow(), username=user.username, address=address, success=ok, known_client=known))
    if not ok or user.id is None:
        raise LoginInvalid
    await known_clients.remember_address(session, user_id=user.id, address=address)


async def remember_browser(user: User, *, device: str | None) -> str:
    """A new device cookie value for a browser that just proved the user's password through a form
    (its own transaction; the caller sets the cookie). `device` is the cookie it sent, if any."""
    if user.id is None:
        raise LoginInvalid
    async with async_session() as session:
        value = await known_clients.new_device(session, user_id=user.id, previous=device)
        await session.commit()
    return value


def new_token(user: User) -> tuple[str, Claims]:
    return issue_token(user)


async def user_for_token(token: str | None) -> User | None:
    """The active user a token belongs to, or None (bad, expired or revoked token)."""
    if not token:
        return None
    try:
        claims = decode_token(token)
    except TokenError:
        return None
    async with async_session() as session:
        user = await session.get(User, claims.user_id)
    if user is None or not user.is_active or user.token_version != claims.token_version:
        return None
    return user


def require_role(user: User | None, role: Role = Role.USER) -> User:
    """Raise Forbidden unless the user exists and has the role (admins may do what users may)."""
    if user is None:
        raise Forbidden("login required")
    if role == Role.ADMIN and user.role != Role.ADMIN:
        raise Forbidden("admin role required")
    return user


async def logout(user: User, *, address: str) -> None:
    """Revoke every token of this user at once."""
    async with async_session() as session:
        fresh = await session.get(User, user.id)
        if fresh is not None:
            fresh.token_version += 1
            session.add(fresh)
            audit.record(session, action="logout", actor=fresh, address=address)
            await session.commit()


async def prune_login_attempts(session: AsyncSession) -> None:
    """Attempts older than the window, and known clients past their lifetime, count for nothing."""
    since = utcnow() - timedelta(minutes=get_settings().login_window_minutes)
    await session.exec(delete(LoginAttempt).where(col(LoginAttempt.at) < since))
    await known_clients.prune(session)


# Attempts older than the window count for nothing: a login deletes them, at most this often per process.
PRUNE_EVERY_S = 600.0
_last_prune: float | None = None


async def _prune_now_and_then(session: AsyncSession) -> None:
    global _last_prune
    now = time.monotonic()
    if _last_prune is None or now - _last_prune >= PRUNE_EVERY_S:
        _last_prune = now
        await prune_login_attempts(session)
