"""The deliveries as admins read them (newest first; failed ones with their masked error) and Retry:
a failed, cancelled or throttled delivery queued again with all its attempts, audited."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.models import DeliveryStatus, NotifyDelivery, User, utcnow
from remediation_app.services import audit
from remediation_app.services.events import bus
from remediation_app.services.notify.events import DELIVERIES, EVENT_LABELS, TOPIC
from remediation_app.services.records import isoformat

STATUSES = tuple(s.value for s in DeliveryStatus)
RETRYABLE = (DeliveryStatus.FAILED.value, DeliveryStatus.CANCELLED.value, DeliveryStatus.THROTTLED.value)
MAX_PAGE = 200


class DeliveryRefused(Exception):
    """A request about a delivery that cannot be granted; `status` is the HTTP status that fits."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def _where(status: str) -> Any:
    return col(NotifyDelivery.status) == status if status else sa.true()


async def list_deliveries(
    session: AsyncSession, *, status: str = "", limit: int = 50, offset: int = 0
) -> tuple[list[NotifyDelivery], int]:
    """A page of deliveries, newest first (`status` "" for all), and how many match."""
    if status and status not in STATUSES:
        raise DeliveryRefused("status: one of " + ", ".join(STATUSES), 422)
    where = _where(status)
    total = int((await session.exec(select(func.count()).select_from(NotifyDelivery).where(where))).one())
    rows = await session.exec(
        select(NotifyDelivery)
        .where(where)
        .order_by(col(NotifyDelivery.id).desc())
        .limit(max(1, min(limit, MAX_PAGE)))
        .offset(max(0, offset))
    )
    return list(rows.all()), total


def delivery_public(row: NotifyDelivery) -> dict[str, Any]:
    """An admin's view of a delivery: where, what, how it went (the error is masked when stored)."""
    return {
        "id": row.id,
        "route_id": row.route_id,
        "route_name": row.route_name,
        "target_kind": row.target_kind,
        "event": row.event,
        "event_label": EVENT_LABELS.get(row.event, row.event),
        "alert_id": row.alert_id,
        "status": row.status,
        "attempts": row.attempts,
        "max_attempts": row.max_attempts,
        "last_error": row.last_error,
        "summary_id": row.summary_id,
        "created_at": isoformat(row.created_at),
        "next_attempt_at": isoformat(row.next_attempt_at) if row.status == DeliveryStatus.PENDING.value else None,
        "finished_at": isoformat(row.finished_at),
    }


async def retry(session: AsyncSession, delivery_id: int, *, actor: User, address: str = "") -> NotifyDelivery:
    """Queue a failed, cancelled or throttled delivery again (all its attempts, now). The caller commits."""
    now = utcnow()
    queued = await session.exec(
        sa.update(DELIVERIES)
        .where(DELIVERIES.c.id == delivery_id, DELIVERIES.c.status.in_(RETRYABLE))
        .values(
            status=DeliveryStatus.PENDING.value,
            attempts=0,
            next_attempt_at=now,
            finished_at=None,
            lease_expires_at=None,
            locked_by="",
            # A throttled one takes a slot like a new one; a summary that counted it already went.
            summary_id=None,
            updated_at=now,
        )
    )
    row = await session.get(NotifyDelivery, delivery_id)
    if row is None:
        raise DeliveryRefused("no such delivery", 404)
    if not queued.rowcount:
        raise DeliveryRefused(
            f"only a failed, cancelled or throttled delivery can be retried (this one is {row.status})", 409
        )
    await session.refresh(row)
    audit.record(
        session,
        action="notify.retry",
        actor=actor,
        target=row.route_name,
        address=address,
        details={"delivery": row.id, "event": row.event, "alert": row.alert_id},
    )
    return row


async def wake_workers() -> None:
    """After a commit that queued a delivery: the workers (and open admin pages) look now."""
    await bus.publish(TOPIC, ids=[], count=0)
