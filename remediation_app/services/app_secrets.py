"""Secrets an admin sets at run time (encrypted at rest; the values never leave this module but to
the code that uses them, and never reach the audit log or a page)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.crypto import DecryptionError, decrypt, encrypt, record_name
from remediation_app.db import TRANSIENT_DB_ERRORS, async_session
from remediation_app.models import AppSecret, User, utcnow
from remediation_app.services import audit
from remediation_app.services.security import StoredToken
from remediation_app.settings import get_settings

log = logging.getLogger(__name__)

WEBHOOK_TOKEN = "webhook_token"  # noqa: S105 (a name, not a value)
# Every secret the app knows, and what it is for (shown next to its status; never its value).
KNOWN_SECRETS: dict[str, str] = {
    WEBHOOK_TOKEN: "An additional bearer token POST /webhook/alerts accepts (besides WEBHOOK_TOKEN); "
    "set or rotate it here without a restart.",
}
MAX_SECRET = 4096
LABEL = "app secret"
# How long a process trusts the secret it read before looking at the database again: a change made
# by another process applies within this time; one made by this process applies at once.
CHECK_S = 1.0


class SecretError(ValueError):
    """A secret that cannot be stored; the message says why (and never holds the value)."""


def _check(name: str, value: str | None) -> None:
    if name not in KNOWN_SECRETS:
        raise SecretError(f"unknown secret {name!r}")
    if value is None:
        return
    if not value or value != value.strip():
        raise SecretError("a secret cannot be empty or start or end with whitespace")
    if len(value) > MAX_SECRET:
        raise SecretError(f"a secret is at most {MAX_SECRET} characters")
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in value) and name == WEBHOOK_TOKEN:
        raise SecretError("a bearer token cannot hold spaces or control characters")


def _record(ident: int | None, name: str) -> str:
    return record_name(AppSecret.__tablename__, ident, f"{LABEL} {name!r}")


async def _stored(session: AsyncSession, name: str) -> AppSecret | None:
    return (await session.exec(select(AppSecret).where(col(AppSecret.name) == name))).first()


async def set_secret(session: AsyncSession, *, name: str, value: str | None, actor: User, address: str) -> None:
    """Store (or, with None, clear) a secret, audited with the value redacted. The caller commits;
    this process sees the change at once (its cache is cleared now and again on commit)."""
    _check(name, value)
    row = await _stored(session, name)
    if value is None:
        if row is not None:
            await session.delete(row)
    else:
        if row is None:
            row = AppSecret(name=name, ciphertext="")
        row.ciphertext, row.updated_at, row.updated_by = encrypt(value), utcnow(), actor.username
        session.add(row)
    audit.record(
        session,
        action="settings.secret",
        actor=actor,
        target=name,
        address=address,
        details={"name": name, "change": "cleared" if value is None else "set", "value": audit.REDACTED},
    )
    await session.flush()
    clear_cache()
    sa.event.listen(session.sync_session, "after_commit", lambda _session: clear_cache(), once=True)


async def get_secret(session: AsyncSession, name: str) -> str | None:
    """The secret's value, None if unset; DecryptionError (naming the record) if no key opens it."""
    row = await _stored(session, name)
    if row is None:
        return None
    return decrypt(row.ciphertext, record=_record(row.id, name))


async def secret_status(session: AsyncSession) -> dict[str, bool]:
    """Which known secrets are set (never their values)."""
    names = set((await session.exec(select(AppSecret.name))).all())
    return {name: name in names for name in KNOWN_SECRETS}


@dataclass(frozen=True)
class _Cached:
    ciphertext: str | None
    token: StoredToken | None
    checked_at: float


# Per database URL and secret name; the generation moves on every clear, so that a read that began
# before a change cannot put the old value back afterwards.
_cache: dict[tuple[str, str], _Cached] = {}
_generation = 0
_clock = time.monotonic


def clear_cache() -> None:
    global _generation
    _generation += 1
    _cache.clear()


async def cached_secret(name: str) -> StoredToken | None:
    """The secret as this process last read it (at most once per CHECK_S; decrypted only when its
    ciphertext changed). None when unset; a StoredToken without a value when no key opens it."""
    key = (get_settings().async_database_url, name)
    cached = _cache.get(key)
    now = _clock()
    if cached is not None and now - cached.checked_at < CHECK_S:
        return cached.token
    generation = _generation
    try:
        async with async_session() as session:
            found: Any = (
                await session.exec(select(AppSecret.id, AppSecret.ciphertext).where(col(AppSecret.name) == name))
            ).first()
    except TRANSIENT_DB_ERRORS:
        if cached is None:
            raise
        log.warning("stored %s not re-read: database unavailable; using the one read before", name)
        _cache[key] = _Cached(cached.ciphertext, cached.token, now)
        return cached.token
    ciphertext: str | None = found[1] if found is not None else None
    if cached is not None and cached.ciphertext == ciphertext:
        token = cached.token
    elif found is None:
        token = None
    else:
        try:
            token = StoredToken(decrypt(found[1], record=_record(found[0], name)))
        except DecryptionError as exc:
            log.error("%s; it matches nothing until it is set again", exc)
            token = StoredToken(None)
    if generation == _generation:
        _cache[key] = _Cached(ciphertext, token, now)
    return token
