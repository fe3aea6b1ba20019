"""Acks: "I am on it until it resolves". An ack records who acknowledged the alert and silences it in
Alertmanager (matchers: the alert's labels) for at most ACK_MAX_HOURS; the engine expires that
silence itself once the alert has resolved (`expire_acks`, run by the sync loop: our row says
resolved, or Alertmanager no longer holds the alert as firing).

Why the engine must look for itself: Alertmanager sends no resolved notification for an alert a
silence mutes, so the webhook alone would never tell.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.crypto import DecryptionError
from remediation_app.models import Alert, AlertStatus, Silence, User, utcnow
from remediation_app.services import metrics
from remediation_app.services.alertmanager import connections
from remediation_app.services.alertmanager.checks import (
    MATCHERS_MAX,
    Matcher,
    SilenceRefused,
    check_matchers,
    matchers_for,
)
from remediation_app.services.alertmanager.client import AlertmanagerClient, AlertmanagerError
from remediation_app.services.alertmanager.silences import alert_or_404, clear_ended_acks, create_silence
from remediation_app.settings import get_settings

log = logging.getLogger(__name__)
SILENCES = Silence.__table__  # type: ignore[attr-defined]
# Acks looked at per sync cycle (the rest wait for the next one).
EXPIRE_BATCH = 200
ENGINE = "engine"
# The labels that say which alert it is, kept first when an alert has more labels than a silence may hold.
IDENTIFYING = ("alertname", "instance", "job", "namespace", "pod", "service", "container", "cluster")


def ack_matchers(alert: Alert) -> list[Matcher]:
    """Every label of the alert by equality (that silence mutes this alert and nothing else); past
    MATCHERS_MAX labels, the identifying ones and then the others by name, up to the limit."""
    matchers = matchers_for(alert)
    if len(matchers) <= MATCHERS_MAX:
        return matchers
    rank = {name: position for position, name in enumerate(IDENTIFYING)}
    return sorted(matchers, key=lambda m: (rank.get(m.name, len(rank)), m.name))[:MATCHERS_MAX]


async def ack_alert(session: AsyncSession, alert_id: int, *, user: User, address: str = "") -> Silence:
    """Acknowledge a firing alert: who and when on the alert, and the ack's silence; commits.
    Refused (409) for a resolved alert, or one acknowledged already with its silence still active."""
    alert = await alert_or_404(session, alert_id)
    if alert.status == AlertStatus.RESOLVED.value:
        raise SilenceRefused("the alert has resolved: there is nothing to acknowledge", 409)
    active = (
        await session.exec(
            select(Silence).where(
                col(Silence.alert_id) == alert_id, col(Silence.kind) == "ack", col(Silence.state) == "active"
            )
        )
    ).first()
    if active is not None and active.ends_at > utcnow():
        raise SilenceRefused(f"already acknowledged by {active.created_by}", 409)
    matchers = check_matchers(ack_matchers(alert))
    return await create_silence(
        session,
        alert,
        user=user,
        kind="ack",
        minutes=get_settings().ack_max_hours * 60,
        comment=f"Acknowledged by {user.username} in Remediation Engine",
        matchers=matchers,
        action="alert.ack",
        address=address,
    )


@dataclass(frozen=True)
class _Due:
    row_id: int
    alertmanager: str
    silence_id: str
    over: bool  # its maximum passed: Alertmanager ended it already


async def _due(session: AsyncSession, gone: dict[str, Collection[str]]) -> list[_Due]:
    """Active acks whose time is up, whose alert resolved here, or whose alert's fingerprint is not
    among those their Alertmanager still holds (`gone`: connection name -> fingerprints it holds;
    a connection not in it was not read this cycle and decides nothing)."""
    now = utcnow()
    silences, alerts = SILENCES, Alert.__table__  # type: ignore[attr-defined]
    active: Any = (
        sa.select(silences.c.id, silences.c.alertmanager, silences.c.silence_id, silences.c.ends_at)
        .add_columns(alerts.c.status, alerts.c.fingerprint)
        .join(alerts, alerts.c.id == silences.c.alert_id, isouter=True)
        .where(silences.c.kind == "ack", silences.c.state == "active")
        .order_by(silences.c.ends_at)
        .limit(EXPIRE_BATCH * 5)
    )
    rows = await session.exec(active)
    due = []
    for row_id, name, silence_id, ends_at, status, fingerprint in rows.all():
        held = gone.get(name)
        resolved = status in (None, AlertStatus.RESOLVED.value) or (held is not None and fingerprint not in held)
        if ends_at <= now or resolved:
            due.append(_Due(row_id, name, silence_id, over=ends_at <= now))
        if len(due) >= EXPIRE_BATCH:
            break
    return due


async def expire_acks(session: AsyncSession, held: dict[str, Collection[str]] | None = None) -> int:
    """Expire the acks whose alert resolved (in Alertmanager first) and close those past their
    maximum; commits each. `held`: fingerprints each connection holds as not resolved, from this
    sync cycle. Returns how many were closed; an Alertmanager that fails leaves its acks for the
    next cycle."""
    closed = 0
    for due in await _due(session, held or {}):
        if not due.over:
            try:
                config = await connections.by_name(session, due.alertmanager)
            except DecryptionError:
                config = None
            if config is None:
                continue  # the connection is gone or unreadable: the ack ends at its maximum
            try:
                async with AlertmanagerClient(config, quiet=True) as client:
                    await client.expire_silence(due.silence_id)
            except AlertmanagerError as exc:
                if not (exc.kind == "query" and exc.status == 404):
                    continue  # tried again next cycle (the sync logs an Alertmanager that fails)
        row = await session.get(Silence, due.row_id)
        if row is None or row.state != "active":
            continue
        now = utcnow()
        row.state, row.expired_at, row.expired_by = "expired", now, ENGINE
        row.ends_at = min(row.ends_at, now)
        session.add(row)
        await clear_ended_acks(session, [row.alert_id])
        await session.commit()
        closed += 1
        metrics.record_silence("expired", "ack")
        log.info("ack expired", extra={"silence_id": due.silence_id, "alertmanager": due.alertmanager})
    return closed
