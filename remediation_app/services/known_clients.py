"""Known clients: who logged in to an account before, so that login throttling keeps them apart from
strangers and a stranger cannot lock them out (docs/security.md, "Login throttling").

A browser is known to an account by its device cookie: a random value given at a successful login
through a browser form (only its SHA-256 is stored), for LOGIN_DEVICE_DAYS after its last successful
login. Any client (an API client has no cookie) is known by its address for LOGIN_KNOWN_ADDRESS_DAYS
after a successful login from it.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, delete, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.models import KnownClient, KnownClientKind, utcnow
from remediation_app.settings import get_settings

# HttpOnly, SameSite=Strict, sent only to the login and password routes (never to pages or the API).
DEVICE_COOKIE = "re_device"
DEVICE_COOKIE_PATH = "/api/auth"
# Our values are 43 characters: a longer cookie is not one of ours and is not even hashed.
MAX_DEVICE_COOKIE = 128
# LoginAttempt.known_client of a client the account does not know.
UNKNOWN = ""
DEVICE, ADDRESS = KnownClientKind.DEVICE.value, KnownClientKind.ADDRESS.value
_TABLE: Any = KnownClient.__table__  # type: ignore[attr-defined]


def _digest(device: str | None) -> str | None:
    if not device or len(device) > MAX_DEVICE_COOKIE:
        return None
    return hashlib.sha256(device.encode("utf-8", "replace")).hexdigest()


def is_device(known_client: str) -> bool:
    return known_client.startswith(f"{DEVICE}:")


def kind_of(known_client: str) -> str:
    """What the audit log says about a login's client: device, address or unknown."""
    return known_client.partition(":")[0] or "unknown"


async def identify(session: AsyncSession, *, user_id: int | None, address: str, device: str | None) -> str:
    """Which known client of the account this is: "device:<sha256>", else "address:<address>", else
    UNKNOWN. A device cookie that is expired, made up, or issued to another account counts for nothing."""
    user_id = 0 if user_id is None else user_id  # no such account: the same query, found nothing
    settings, now = get_settings(), utcnow()
    candidates = []
    digest = _digest(device)
    if digest is not None:
        fresh = now - timedelta(days=settings.login_device_days)
        candidates.append(_row(DEVICE, digest, fresh))
    if address and settings.login_known_address_days > 0:
        fresh = now - timedelta(days=settings.login_known_address_days)
        candidates.append(_row(ADDRESS, address, fresh))
    if not candidates:
        return UNKNOWN
    query = select(KnownClient.kind, KnownClient.value).where(col(KnownClient.user_id) == user_id, sa.or_(*candidates))
    found = dict((await session.exec(query)).all())
    for kind in (DEVICE, ADDRESS):
        if kind in found:
            return f"{kind}:{found[kind]}"
    return UNKNOWN


def _row(kind: str, value: str, fresh: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(
        col(KnownClient.kind) == kind, col(KnownClient.value) == value, col(KnownClient.last_success_at) >= fresh
    )


async def _upsert(session: AsyncSession, *, user_id: int, kind: str, value: str) -> None:
    """Insert the known client, or move its last success to now (concurrent logins cannot collide)."""
    now = utcnow()
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = insert(_TABLE).values(user_id=user_id, kind=kind, value=value, created_at=now, last_success_at=now)
    stmt = stmt.on_conflict_do_update(
        index_elements=["user_id", "kind", "value"], set_={"last_success_at": stmt.excluded.last_success_at}
    )
    await session.exec(stmt)


async def remember_address(session: AsyncSession, *, user_id: int, address: str) -> None:
    """A successful login from this address (in the caller's transaction)."""
    if address:
        await _upsert(session, user_id=user_id, kind=ADDRESS, value=address)


async def new_device(session: AsyncSession, *, user_id: int, previous: str | None) -> str:
    """A new device cookie value for a browser that just logged in to the account (the caller commits
    and sets it). The value is always ours, never the one the browser sent (which could have been
    planted): the accounts the previous cookie was known to move over to the new value."""
    value = secrets.token_urlsafe(32)
    digest = _digest(value)
    assert digest is not None
    old = _digest(previous)
    if old is not None:
        moved = update(KnownClient).where(col(KnownClient.kind) == DEVICE, col(KnownClient.value) == old)
        await session.exec(moved.values(value=digest))
    await _upsert(session, user_id=user_id, kind=DEVICE, value=digest)
    return value


async def prune(session: AsyncSession) -> None:
    """Forget known clients whose last successful login is older than their lifetime."""
    settings, now = get_settings(), utcnow()
    for kind, days in ((DEVICE, settings.login_device_days), (ADDRESS, settings.login_known_address_days)):
        older = col(KnownClient.last_success_at) < now - timedelta(days=days)
        await session.exec(delete(KnownClient).where(col(KnownClient.kind) == kind, older))


async def forget(session: AsyncSession, *, user_id: int) -> None:
    """The account knows no client any more (after an admin reset its password)."""
    await session.exec(delete(KnownClient).where(col(KnownClient.user_id) == user_id))
