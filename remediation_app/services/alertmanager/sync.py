"""The sync loop (an app lifespan task): every ALERTMANAGER_SYNC_SECONDS, for each Alertmanager
connection, read its alerts (GET /api/v2/alerts) and its silences, then

- mark our firing alerts by fingerprint: am_state (active, suppressed, unprocessed; "" when the
  Alertmanager no longer holds it), the silences and the inhibiting alerts (their fingerprints)
  that suppress it, and am_synced_at (when the sync last changed them; unchanged rows are not
  written);
- mark the silences we made that Alertmanager ended (expired there, or forgotten) as expired;
- expire the acks whose alert resolved (services/alertmanager/acks.py);
- publish the "alerts" event when something changed.

Bounded: at most SYNC_MAX_ALERTS of our firing alerts per connection and cycle, the answers bounded
by the client. An Alertmanager or a database that fails is logged once (and again when it
recovers), and tried again next cycle. A notification stored meanwhile wakes the ack check early.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.crypto import DecryptionError
from remediation_app.db import TRANSIENT_DB_ERRORS, async_session
from remediation_app.models import Alert, AlertmanagerConn, AlertStatus, Silence, utcnow
from remediation_app.services import metrics
from remediation_app.services.alertmanager import connections
from remediation_app.services.alertmanager.acks import expire_acks
from remediation_app.services.alertmanager.client import (
    AlertmanagerClient,
    AlertmanagerConfig,
    AlertmanagerError,
    AmAlert,
    AmSilence,
)
from remediation_app.services.alertmanager.silences import clear_ended_acks
from remediation_app.services.events import bus
from remediation_app.settings import get_settings

log = logging.getLogger(__name__)
SYNC_MAX_ALERTS = 5000
# A silence of ours missing from Alertmanager's list is taken as ended only when made this long before
# the list was read (one made meanwhile, or not yet gossiped to every peer, is not in it yet).
UNSEEN_GRACE = timedelta(minutes=2)
ALERTS_TOPIC = "alerts"
SOURCE = "alertmanager-sync"  # our own events, which must not wake the loop again
CHUNK = 500
ALERTS = Alert.__table__  # type: ignore[attr-defined]


@dataclass
class SyncReport:
    """One cycle: alert ids whose Alertmanager state changed, silences found ended, acks expired,
    the connections that failed (name -> why)."""

    changed: list[int] = field(default_factory=list)
    ended: int = 0
    acks_expired: int = 0
    failed: dict[str, str] = field(default_factory=dict)


_failing: dict[str, str] = {}


def _note(name: str, error: str | None) -> None:
    """Log a connection's failure once (and its recovery), not every cycle."""
    before = _failing.get(name)
    if error is None:
        if before is not None:
            log.info("alertmanager sync recovered", extra={"alertmanager": name})
            _failing.pop(name, None)
        return
    if before != error:
        log.warning("alertmanager sync failed: %s", error, extra={"alertmanager": name})
        _failing[name] = error


async def _configs(session: AsyncSession) -> tuple[list[AlertmanagerConfig], dict[str, str]]:
    """The enabled connections; those whose credential cannot be read are reported, not synced."""
    configs, failed = [], {}
    env = connections.env_alertmanager()
    if env is not None:
        configs.append(env)
    for row in await connections.list_alertmanagers(session):
        if not row.enabled:
            continue
        try:
            configs.append(connections.KIND.config_of(row))
        except DecryptionError as exc:
            failed[row.name] = str(exc)
    return configs, failed


async def _ours(session: AsyncSession, name: str, stored: list[AlertmanagerConn]) -> list[Any]:
    """Our firing alerts that came from connection `name` (by their externalURL), newest first."""
    firing: Any = (
        sa.select(ALERTS.c.id, ALERTS.c.fingerprint, ALERTS.c.external_url, ALERTS.c.am_state)
        .add_columns(ALERTS.c.am_silenced_by, ALERTS.c.am_inhibited_by)
        .where(ALERTS.c.status == AlertStatus.FIRING.value)
        .order_by(ALERTS.c.id.desc())
        .limit(SYNC_MAX_ALERTS)
    )
    rows = (await session.exec(firing)).all()

    @functools.cache
    def belongs(external_url: str) -> bool:
        picked = connections.pick(stored, external_url)
        return picked is not None and picked.name == name

    try:
        return [row for row in rows if belongs(row[2])]
    except DecryptionError:
        return []


async def _mark_alerts(
    session: AsyncSession, name: str, am_alerts: list[AmAlert], stored: list[AlertmanagerConn]
) -> list[int]:
    """Write each alert's Alertmanager state (only rows whose state changed); returns their ids."""
    now = utcnow()
    by_fingerprint = {alert.fingerprint: alert for alert in am_alerts}
    changed: list[dict[str, Any]] = []
    for alert_id, fingerprint, _url, state, silenced_by, inhibited_by in await _ours(session, name, stored):
        seen = by_fingerprint.get(fingerprint)
        new = (seen.state, seen.silenced_by, seen.inhibited_by) if seen else ("", [], [])
        if new != (state, list(silenced_by or []), list(inhibited_by or [])):
            state, silenced, inhibited = new
            changed.append(
                {
                    "_id": alert_id,
                    "am_state": state,
                    "am_silenced_by": silenced,
                    "am_inhibited_by": inhibited,
                    "am_synced_at": now,
                }
            )
    update = (
        sa.update(ALERTS)
        .where(ALERTS.c.id == sa.bindparam("_id"))
        .values(
            am_state=sa.bindparam("am_state"),
            am_silenced_by=sa.bindparam("am_silenced_by"),
            am_inhibited_by=sa.bindparam("am_inhibited_by"),
            am_synced_at=sa.bindparam("am_synced_at"),
        )
    )
    for start in range(0, len(changed), CHUNK):
        await session.exec(update, params=changed[start : start + CHUNK])
    return [item["_id"] for item in changed]


async def _mark_ended(session: AsyncSession, name: str, am_silences: list[AmSilence], read_at: datetime) -> int:
    """Our active silences (and acks) that Alertmanager ended or no longer knows: expired here too.
    One missing from its list counts only when made well before the list was read (`read_at`): one
    made meanwhile, or not yet gossiped to every peer of a cluster, waits for a later cycle."""
    states = {silence.id: silence for silence in am_silences}
    rows = await session.exec(
        select(Silence).where(col(Silence.alertmanager) == name, col(Silence.state) == "active").limit(SYNC_MAX_ALERTS)
    )
    settled = read_at - UNSEEN_GRACE
    ended = 0
    acked: list[int | None] = []
    for row in rows.all():
        there = states.get(row.silence_id)
        if there is not None and there.state != "expired":
            continue
        if there is None and row.created_at >= settled:
            continue
        ended_at = there.ends_at if there is not None and there.ends_at else utcnow()
        row.state, row.expired_at, row.expired_by = "expired", ended_at, "alertmanager"
        row.ends_at = min(row.ends_at, ended_at)
        session.add(row)
        if row.kind == "ack":
            acked.append(row.alert_id)
        ended += 1
    await clear_ended_acks(session, acked)
    return ended


async def _read(config: AlertmanagerConfig) -> tuple[list[AmAlert], list[AmSilence]]:
    async with AlertmanagerClient(config, quiet=True) as client:  # failures logged once, by _note
        return await client.alerts(), await client.silences()


async def sync_once() -> SyncReport:
    """One cycle over every enabled connection, then the acks. Raises only on database errors."""
    report = SyncReport()
    held: dict[str, Collection[str]] = {}
    async with async_session() as session:
        configs, report.failed = await _configs(session)
        stored = await connections.list_alertmanagers(session)
    for config in configs:
        read_at = utcnow()
        try:
            am_alerts, am_silences = await _read(config)
        except AlertmanagerError as exc:
            report.failed[config.name] = str(exc)
            continue
        held[config.name] = {alert.fingerprint for alert in am_alerts}
        async with async_session() as session:
            report.changed += await _mark_alerts(session, config.name, am_alerts, stored)
            report.ended += await _mark_ended(session, config.name, am_silences, read_at)
            await session.commit()
    async with async_session() as session:
        report.acks_expired = await expire_acks(session, held)
    for config in configs:
        ok = config.name not in report.failed
        metrics.record_alertmanager_sync(config.name, ok)
        _note(config.name, None if ok else report.failed[config.name])
    if report.changed or report.ended or report.acks_expired:
        await bus.publish(ALERTS_TOPIC, ids=report.changed[:100], count=len(report.changed), source=SOURCE)
    return report


async def _wait(wake: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(wake.wait(), timeout=seconds)
    wake.clear()


async def _listen(wake: asyncio.Event) -> None:
    """A stored notification (perhaps a resolved one) wakes the loop: its acks end sooner."""
    with bus.subscribe() as queue:
        while True:
            event = await queue.get()
            if event.get("topic") == ALERTS_TOPIC and event.get("source") != SOURCE:
                wake.set()


async def run_sync() -> None:
    """The lifespan task (nothing when ALERTMANAGER_SYNC_SECONDS is 0)."""
    every = get_settings().alertmanager_sync_seconds
    if every <= 0:
        return
    wake = asyncio.Event()
    listener = asyncio.create_task(_listen(wake), name="alertmanager-sync-wake")
    database_down = False
    try:
        while True:
            started = asyncio.get_running_loop().time()
            try:
                await sync_once()
                database_down = False
            except TRANSIENT_DB_ERRORS:
                if not database_down:
                    log.warning("alertmanager sync skipped: database unavailable")
                database_down = True
            except Exception:
                log.exception("alertmanager sync failed")
            # At most one cycle a second, however often notifications wake it.
            await asyncio.sleep(max(0.0, 1.0 - (asyncio.get_running_loop().time() - started)))
            await _wait(wake, every)
    finally:
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)


def last_failures() -> dict[str, str]:
    """The connections failing at the last cycle (name -> why), for diagnostics."""
    return dict(_failing)
