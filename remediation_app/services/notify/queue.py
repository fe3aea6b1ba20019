"""The worker's side of the delivery queue: claim a delivery (SKIP LOCKED), apply its route's throttle,
finish it. Like the analysis jobs (services/llm/claims.py): a delivery moves pending -> sending -> sent |
failed (or back to pending for a retry, with backoff and jitter); every write after the claim is fenced
by `locked_by`, so a worker whose lease ran out (another took the delivery over) changes nothing.

The throttle: a delivery takes one of its target's slots when first sent (a retry keeps it); a target
has `throttle_max` slots per `throttle_minutes`. Past them the delivery is marked throttled, not sent,
and a summary delivery is queued for when the first slot frees: it says how many messages were held
back and for which alerts (none is silently lost). On PostgreSQL the decision is taken under an
advisory lock per target, so workers sharing the queue never overrun a throttle together.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.models import DeliveryStatus, NotifyDelivery, utcnow
from remediation_app.services.notify.events import DELIVERIES, SUMMARY, dedup_summary, delivery_row, insert_new
from remediation_app.services.notify.route_set import Target
from remediation_app.settings import get_settings

SENDING, PENDING = DeliveryStatus.SENDING.value, DeliveryStatus.PENDING.value
ERROR_MAX = 2000


@dataclass(frozen=True)
class ClaimedDelivery:
    id: int
    route_id: int | None
    target_key: str
    route_name: str
    target_kind: str
    event: str
    alert_id: int | None
    subject_id: int | None
    data: dict[str, Any]
    attempts: int
    max_attempts: int
    idempotency_key: str
    slot_at: datetime | None


_RETURNED = tuple(DELIVERIES.c[name] for name in ClaimedDelivery.__dataclass_fields__)


def lease_seconds() -> float:
    """Longer than an attempt may take (its timeout), so a live worker never loses a delivery it sends."""
    return get_settings().notify_timeout_seconds * 2 + 30


async def claim(session: AsyncSession, worker: str) -> ClaimedDelivery | None:
    """Take the next due delivery (or one whose lease expired) and lease it to `worker`; the caller commits."""
    now = utcnow()
    # Its worker died on every attempt (sending it may be what kills it): not tried again.
    await session.exec(
        sa.update(DELIVERIES)
        .where(
            DELIVERIES.c.status == SENDING,
            DELIVERIES.c.lease_expires_at < now,
            DELIVERIES.c.attempts >= DELIVERIES.c.max_attempts,
        )
        .values(
            status=DeliveryStatus.FAILED.value,
            finished_at=now,
            updated_at=now,
            lease_expires_at=None,
            last_error="the worker sending it stopped on every attempt (lease expired)",
        )
    )
    ready = sa.or_(
        sa.and_(DELIVERIES.c.status == PENDING, DELIVERIES.c.next_attempt_at <= now),
        sa.and_(DELIVERIES.c.status == SENDING, DELIVERIES.c.lease_expires_at < now),
    )
    pick = (
        sa.select(DELIVERIES.c.id)
        .where(ready)
        .order_by(DELIVERIES.c.next_attempt_at, DELIVERIES.c.id)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    stmt = (
        sa.update(DELIVERIES)
        .where(DELIVERIES.c.id == pick)
        .values(
            status=SENDING,
            attempts=DELIVERIES.c.attempts + 1,
            lease_expires_at=now + timedelta(seconds=lease_seconds()),
            locked_by=worker,
            updated_at=now,
        )
        .returning(*_RETURNED)
    )
    row = (await session.exec(stmt)).first()
    return None if row is None else ClaimedDelivery(*row)


def _lock_key(target_key: str) -> int:
    return int.from_bytes(hashlib.sha256(f"notify:{target_key}".encode()).digest()[:8], "big", signed=True)


async def take_slot(session: AsyncSession, delivery: ClaimedDelivery, target: Target, worker: str) -> bool:
    """Whether the delivery may be sent now: a summary always, a retry on the slot it took, else a free
    slot of its target's throttle. If not, it is marked throttled and a summary is queued (once per
    target at a time). In the claim's transaction; the caller commits."""
    if delivery.event == SUMMARY or delivery.slot_at is not None:
        return True
    if session.get_bind().dialect.name == "postgresql":
        await session.exec(select(func.pg_advisory_xact_lock(_lock_key(delivery.target_key))))
    now = utcnow()
    since = now - timedelta(minutes=target.throttle_minutes)
    slot_at = col(NotifyDelivery.slot_at)
    in_window = sa.and_(col(NotifyDelivery.target_key) == delivery.target_key, slot_at >= since)
    used, oldest = (await session.exec(select(func.count(), func.min(slot_at)).where(in_window))).one()
    if int(used) < target.throttle_max:
        await _finish(session, delivery.id, worker, slot_at=now, keep_lease=True)
        return True
    await _finish(
        session,
        delivery.id,
        worker,
        status=DeliveryStatus.THROTTLED.value,
        finished_at=now,
        attempts=DELIVERIES.c.attempts - 1,
        last_error=f"held back by the throttle (at most {target.throttle_max} per {target.throttle_minutes} min): "
        "counted in the route's next summary message",
    )
    waiting = await session.exec(
        select(NotifyDelivery.id).where(
            col(NotifyDelivery.target_key) == delivery.target_key,
            col(NotifyDelivery.event) == SUMMARY,
            col(NotifyDelivery.status).in_((PENDING, SENDING)),
        )
    )
    if waiting.first() is None:
        first_free = _aware(oldest) + timedelta(minutes=target.throttle_minutes) if oldest is not None else now
        summary = delivery_row(target, SUMMARY, dedup_summary(delivery.id), alert_id=None)
        summary["next_attempt_at"] = max(first_free, now)
        # Do nothing when this delivery made its summary already (a retried delivery throttled again):
        # a plain INSERT would fail on the dedup key, roll the claim back and stall the queue on it.
        await session.exec(insert_new(session.get_bind().dialect.name), params=[summary])
    return False


def _aware(moment: Any) -> datetime:
    """A timestamp from an aggregate (SQLite answers text there; PostgreSQL an aware datetime)."""
    value = moment if isinstance(moment, datetime) else datetime.fromisoformat(str(moment))
    return value if value.tzinfo is not None else value.replace(tzinfo=utcnow().tzinfo)


async def summarized(session: AsyncSession, summary: ClaimedDelivery) -> tuple[dict[str, int], list[tuple[str, int]]]:
    """Count the target's throttled deliveries into this summary (those not in one yet): how many per
    event, and the first ten (event, alert id)."""
    await session.exec(
        sa.update(DELIVERIES)
        .where(
            DELIVERIES.c.target_key == summary.target_key,
            DELIVERIES.c.status == DeliveryStatus.THROTTLED.value,
            DELIVERIES.c.summary_id.is_(None),
        )
        .values(summary_id=summary.id)
    )
    mine = col(NotifyDelivery.summary_id) == summary.id
    counts = await session.exec(
        select(NotifyDelivery.event, func.count()).where(mine).group_by(col(NotifyDelivery.event))
    )
    first = await session.exec(
        select(NotifyDelivery.event, NotifyDelivery.alert_id).where(mine).order_by(col(NotifyDelivery.id)).limit(10)
    )
    return {str(e): int(n) for e, n in counts.all()}, [(str(e), int(a or 0)) for e, a in first.all()]


def _mine(delivery_id: int, worker: str) -> Any:
    return sa.and_(DELIVERIES.c.id == delivery_id, DELIVERIES.c.locked_by == worker, DELIVERIES.c.status == SENDING)


async def _finish(
    session: AsyncSession, delivery_id: int, worker: str, *, keep_lease: bool = False, **values: Any
) -> bool:
    values.setdefault("updated_at", utcnow())
    if not keep_lease:
        values["lease_expires_at"] = None
    result = await session.exec(sa.update(DELIVERIES).where(_mine(delivery_id, worker)).values(**values))
    return bool(result.rowcount)


async def sent(session: AsyncSession, delivery: ClaimedDelivery, worker: str) -> bool:
    now = utcnow()
    return await _finish(session, delivery.id, worker, status=DeliveryStatus.SENT.value, finished_at=now, last_error="")


def backoff_seconds(attempt: int) -> float:
    """Exponential backoff with jitter: uniform(c/2, c) where c = min(max, base * 2^(attempt-1))."""
    settings = get_settings()
    ceiling = min(settings.notify_retry_max_seconds, settings.notify_retry_base_seconds * 2 ** (attempt - 1))
    return random.uniform(ceiling / 2, ceiling)  # noqa: S311 (jitter, not a secret)


async def settle(session: AsyncSession, delivery: ClaimedDelivery, worker: str, error: str, *, transient: bool) -> str:
    """A failed attempt: retried later (transient, attempts left) or failed for good; the (masked)
    error is kept. Returns "retried", "failed" or "lease-lost"."""
    error = error[:ERROR_MAX]
    if transient and delivery.attempts < delivery.max_attempts:
        retry_at = utcnow() + timedelta(seconds=backoff_seconds(delivery.attempts))
        done = await _finish(
            session, delivery.id, worker, status=PENDING, next_attempt_at=retry_at, last_error=error, locked_by=""
        )
        return "retried" if done else "lease-lost"
    done = await _finish(
        session, delivery.id, worker, status=DeliveryStatus.FAILED.value, finished_at=utcnow(), last_error=error
    )
    return "failed" if done else "lease-lost"


async def cancel(session: AsyncSession, delivery: ClaimedDelivery, worker: str, reason: str) -> bool:
    return await _finish(
        session,
        delivery.id,
        worker,
        status=DeliveryStatus.CANCELLED.value,
        finished_at=utcnow(),
        last_error=reason[:ERROR_MAX],
    )


async def release(session: AsyncSession, delivery: ClaimedDelivery, worker: str) -> bool:
    """Give a claimed delivery back untouched (shutdown before it was sent): the attempt does not count."""
    return await _finish(session, delivery.id, worker, status=PENDING, attempts=DELIVERIES.c.attempts - 1, locked_by="")


async def next_due(session: AsyncSession) -> datetime | None:
    """When the next delivery comes due (a retry, a summary, an expired lease), if any."""
    status = col(NotifyDelivery.status)
    due_at = sa.case(
        (status == PENDING, col(NotifyDelivery.next_attempt_at)), else_=col(NotifyDelivery.lease_expires_at)
    )
    due = await session.exec(select(func.min(due_at)).where(status.in_((PENDING, SENDING))))
    value = due.one_or_none()
    return None if value is None else _aware(value)
