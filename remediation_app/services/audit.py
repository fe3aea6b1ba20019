"""The audit log: who did what, when and from where; secrets are redacted before anything is stored."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.models import SHORT, AuditEvent, User, utcnow

REDACTED = "[redacted]"
# A key is cut into words (snake_case, kebab-case, camelCase) and is secret when a word holds one of
# these stems: "api_key", "webhookToken", "sshpass", "password_hash", "private_key", "passphrase".
_SECRET_STEM = re.compile(r"pass|secret|token|key|hash|credential", re.IGNORECASE)
_WORD = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
# ...except a count of tokens ("max_tokens", "prompt_tokens", "completionTokens"): a number, no secret.
_TOKEN_COUNT = "tokens"  # noqa: S105 (a word of a key's name, not a password)
MAX_PAGE = 200


def _secret_key(key: object, value: Any) -> bool:
    words = [w.lower() for w in _WORD.findall(str(key))] or [str(key)]
    is_count = value is None or (isinstance(value, int | float) and not isinstance(value, bool))
    return any(_SECRET_STEM.search(w) and not (w == _TOKEN_COUNT and is_count) for w in words)


def redact(details: Any) -> Any:
    """A copy of details with every value under a secret-looking key replaced."""
    if isinstance(details, dict):
        return {k: REDACTED if _secret_key(k, v) else redact(v) for k, v in details.items()}
    if isinstance(details, list):
        return [redact(v) for v in details]
    return details


def record(
    session: AsyncSession,
    *,
    action: str,
    actor: User | str | None,
    target: str = "",
    address: str = "",
    success: bool = True,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add an event to the session's transaction (it is stored with the change it describes)."""
    actor_name = actor.username if isinstance(actor, User) else (actor or "")
    event = AuditEvent(
        at=utcnow(),
        actor_id=actor.id if isinstance(actor, User) else None,
        actor=actor_name[:150],
        action=action[:64],
        target=target[:SHORT],
        address=address[:64],
        success=success,
        details=redact(details or {}),
    )
    session.add(event)
    return event


@dataclass(frozen=True)
class AuditFilter:
    actor: str = ""
    action: str = ""
    since: datetime | None = None
    until: datetime | None = None


async def list_events(
    session: AsyncSession, flt: AuditFilter, *, limit: int = 50, offset: int = 0
) -> tuple[list[AuditEvent], int]:
    clauses: list[Any] = []
    if flt.actor:
        clauses.append(col(AuditEvent.actor) == flt.actor)
    if flt.action:
        clauses.append(col(AuditEvent.action) == flt.action)
    if flt.since:
        clauses.append(col(AuditEvent.at) >= flt.since)
    if flt.until:
        clauses.append(col(AuditEvent.at) < flt.until)
    total = (await session.exec(select(func.count()).select_from(AuditEvent).where(*clauses))).one()
    rows = await session.exec(
        select(AuditEvent)
        .where(*clauses)
        .order_by(col(AuditEvent.at).desc(), col(AuditEvent.id).desc())
        .limit(max(1, min(limit, MAX_PAGE)))
        .offset(max(0, offset))
    )
    return list(rows.all()), int(total)


def event_public(event: AuditEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "at": event.at.isoformat(),
        "actor": event.actor,
        "action": event.action,
        "target": event.target,
        "address": event.address,
        "success": event.success,
        "details": event.details,
    }
