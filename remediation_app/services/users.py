"""Users: the first admin, the admin's changes and a user's change of their own password (each
audited; role, activity and password changes revoke the user's existing tokens)."""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import sys
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.db import async_session
from remediation_app.models import Role, User, utcnow
from remediation_app.services import audit, auth, known_clients
from remediation_app.services.records import columns, isoformat
from remediation_app.services.security import hash_password
from remediation_app.settings import get_settings

log = logging.getLogger(__name__)


async def ensure_first_admin() -> bool:
    """Create the first admin when there are no users; True if this call created it.

    Several workers may race here: the unique username lets exactly one win. A generated password
    is printed once, by the winner, to stdout (not to the log stream).
    """
    settings = get_settings()
    async with async_session() as session:
        if (await session.exec(select(func.count()).select_from(User))).one():
            return False
        generated = settings.admin_password is None
        password = secrets.token_urlsafe(16) if generated else settings.admin_password.get_secret_value()  # type: ignore[union-attr]
        now = utcnow()
        session.add(
            User(
                username=settings.admin_username,
                password_hash=hash_password(password),
                role=Role.ADMIN.value,
                created_at=now,
                updated_at=now,
            )
        )
        try:
            await session.commit()
        except sa.exc.IntegrityError:
            return False
    log.info("created the first admin user %r", settings.admin_username)
    if generated:
        print(
            f"\n*** First admin created: username {settings.admin_username!r}, password {password}\n"
            "*** It is shown only this once. Set ADMIN_PASSWORD to choose your own.\n",
            file=sys.stdout,
            flush=True,
        )
    return True


class UserError(ValueError):
    """A user change that cannot be made; the message says why."""


class PasswordRejected(UserError):
    """A new password that breaks a rule; `code` names the rule (short, safe to put in a URL)."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


USERNAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,149}")
MIN_PASSWORD = 12
MAX_PASSWORD = 1024


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise PasswordRejected(f"the password needs at least {MIN_PASSWORD} characters", "short")
    if len(password) > MAX_PASSWORD:
        raise PasswordRejected(f"the password is longer than {MAX_PASSWORD} characters", "long")
    # NUL cannot be typed into the login form, and a lone surrogate (JSON allows "\ud800") cannot be hashed.
    try:
        password.encode("utf-8")
    except UnicodeEncodeError:
        usable = False
    else:
        usable = "\x00" not in password
    if not usable:
        raise PasswordRejected("the password contains characters that cannot be used", "characters")


async def list_users(session: AsyncSession) -> list[User]:
    return list((await session.exec(select(User).order_by(col(User.username)))).all())


async def create_user(
    session: AsyncSession, *, actor: User | str, username: str, password: str, role: str, address: str = ""
) -> User:
    username = username.strip()
    if not USERNAME_RE.fullmatch(username):
        raise UserError("a username is 1-150 letters, digits and . _ @ - (starting with a letter or digit)")
    if role not in {r.value for r in Role}:
        raise UserError(f"unknown role {role!r}")
    _check_password(password)
    if (await session.exec(select(User).where(col(User.username) == username))).first() is not None:
        raise UserError(f"user {username!r} already exists")
    now = utcnow()
    password_hash = await asyncio.to_thread(hash_password, password)
    user = User(username=username, password_hash=password_hash, role=role, created_at=now, updated_at=now)
    session.add(user)
    audit.record(session, action="user.create", actor=actor, target=username, address=address, details={"role": role})
    await session.flush()
    return user


async def _target(session: AsyncSession, user_id: int) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise UserError("no such user")
    return user


def _changed(
    session: AsyncSession,
    user: User,
    *,
    action: str,
    actor: User | str,
    address: str,
    details: dict[str, Any] | None = None,
) -> User:
    """A change of who the user is or may do: every token of theirs stops working; audited."""
    user.token_version, user.updated_at = user.token_version + 1, utcnow()
    session.add(user)
    audit.record(session, action=action, actor=actor, target=user.username, address=address, details=details)
    return user


async def _other_active_admins(session: AsyncSession, user_id: int) -> int:
    query = (
        select(func.count())
        .select_from(User)
        .where(col(User.role) == Role.ADMIN.value, col(User.is_active).is_(True), col(User.id) != user_id)
    )
    return int((await session.exec(query)).one())


async def set_role(session: AsyncSession, *, actor: User, user_id: int, role: str, address: str = "") -> User:
    if role not in {r.value for r in Role}:
        raise UserError(f"unknown role {role!r}")
    user = await _target(session, user_id)
    if user.role == Role.ADMIN and role != Role.ADMIN and not await _other_active_admins(session, user_id):
        raise UserError("the last active admin cannot lose the admin role")
    before, user.role = user.role, role
    return _changed(
        session, user, action="user.role", actor=actor, address=address, details={"from": before, "to": role}
    )


async def set_active(session: AsyncSession, *, actor: User, user_id: int, active: bool, address: str = "") -> User:
    user = await _target(session, user_id)
    if not active and user.role == Role.ADMIN and not await _other_active_admins(session, user_id):
        raise UserError("the last active admin cannot be deactivated")
    user.is_active = active
    return _changed(
        session, user, action="user.activate" if active else "user.deactivate", actor=actor, address=address
    )


async def reset_password(
    session: AsyncSession, *, actor: User | str, user_id: int, password: str, address: str = ""
) -> User:
    _check_password(password)
    user = await _target(session, user_id)
    user.password_hash = await asyncio.to_thread(hash_password, password)
    # An admin resets a password when the account may be in other hands: the browsers and addresses
    # it logged in from before are strangers again (throttled together, docs/security.md).
    await known_clients.forget(session, user_id=user_id)
    return _changed(session, user, action="user.password", actor=actor, address=address)


async def change_own_password(
    session: AsyncSession, user: User, current: str, new: str, address: str = "", device: str | None = None
) -> User:
    """A logged-in user changes their own password; the stored user, changed (the caller commits).

    The new password is checked first (the same rules as everywhere, and not the current one), then
    the current password like a login (auth.confirm_password: throttled like a login from this
    address and device cookie, through the bounded hashing gate, a wrong one counts as a failed
    attempt; that attempt and its audit event are committed here before LoginInvalid, LoginThrottled
    or LoginBusy is raised). The token version is bumped: every token of the user, the caller's own
    included, stops working.
    """
    _check_password(new)
    if new == current:
        raise PasswordRejected("the new password must differ from the current one", "same")
    fresh = await session.get(User, user.id)
    if fresh is None or not fresh.is_active:
        raise auth.LoginInvalid
    try:
        await auth.confirm_password(session, user=fresh, password=current, address=address, device=device)
    except (auth.LoginInvalid, auth.LoginThrottled) as exc:
        reason = "throttled" if isinstance(exc, auth.LoginThrottled) else "wrong current password"
        audit.record(
            session,
            action="user.password_change",
            actor=fresh,
            target=fresh.username,
            address=address,
            success=False,
            details={"reason": reason},
        )
        await session.commit()
        raise
    fresh.password_hash = await auth.hashing.run(hash_password, new)
    return _changed(session, fresh, action="user.password_change", actor=fresh, address=address)


def user_public(user: User) -> dict[str, object]:
    """What a page or API answer may show of a user (never the hash or token version)."""
    return {
        **columns(user, "id", "username", "role", "is_active"),
        "last_login_at": isoformat(user.last_login_at) or "",
    }
