"""Ingest one Alertmanager notification: upsert its alerts, record it, decide actions, group them into
an incident (services/alerts/incidents.py) and queue analyses, with storm control (storm.py); one
transaction."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.db import async_session
from remediation_app.models import (
    SHORT,
    Alert,
    AlertNotification,
    AlertStatus,
    Notification,
    RuleAction,
    utcnow,
)
from remediation_app.services import metrics
from remediation_app.services.alertmanager.payload import AlertIn, NotificationIn
from remediation_app.services.alerts import incidents, storm
from remediation_app.services.events import bus
from remediation_app.services.llm import jobs
from remediation_app.services.notify import events as notify_events
from remediation_app.services.rules.engine import RuleSet, current_rule_set

log = logging.getLogger(__name__)
ALERTS = Alert.__table__  # type: ignore[attr-defined]
LINKS = AlertNotification.__table__  # type: ignore[attr-defined]
# Rows per INSERT: stays under SQLite's 32766 and PostgreSQL's 65535 bound parameters.
CHUNK = 500
SUMMARY_MAX = 1024
# Above this many alerts, deciding and shaping the rows (CPU work in proportion to the payload) runs
# in a worker thread, so that the event loop keeps serving other requests meanwhile. The webhook also
# asks for it (off_loop) whenever the body is large.
OFF_LOOP_ALERTS = 200


@dataclass
class IngestResult:
    notification_id: int
    received: int
    created: int = 0
    updated: int = 0
    by_action: dict[str, int] = field(default_factory=dict)
    alert_ids: list[int] = field(default_factory=list)
    # New firing auto_analyze alerts queued for analysis (not those in the dedup window); for a storm,
    # the representative alert of the group's job.
    to_analyze: list[int] = field(default_factory=list)
    incident_id: int | None = None
    storm: bool = False
    # Analyses storm control did not queue (the group's analysis covers those alerts).
    calls_saved: int = 0


def _cut(value: str, limit: int = SHORT) -> str:
    return value if len(value) <= limit else value[:limit]


def _alert_row(alert: AlertIn, payload: NotificationIn, rules: RuleSet, now: datetime) -> dict[str, Any]:
    labels = alert.labels
    decision = rules.decide(labels)
    summary = alert.annotations.get("summary") or alert.annotations.get("description") or ""
    return {
        "fingerprint": alert.key_fingerprint(),
        "starts_at": alert.starts_at,
        "ends_at": alert.ends_at,
        "status": alert.status,
        "alertname": _cut(labels.get("alertname", "")),
        "severity": _cut(labels.get("severity", "").lower()),
        "instance": _cut(labels.get("instance", "")),
        "job": _cut(labels.get("job", "")),
        "summary": _cut(summary, SUMMARY_MAX),
        "labels": labels,
        "annotations": alert.annotations,
        "generator_url": alert.generator_url,
        "group_key": payload.group_key,
        "receiver": _cut(payload.receiver),
        "external_url": payload.external_url,
        "first_received_at": now,
        "last_received_at": now,
        "times_notified": 1,
        "action": decision.action,
        "matched_rule_id": decision.rule_id,
        "matched_rule_name": _cut(decision.rule_name),
        "match_reason": decision.reason,
        "incident_id": None,
    }


def _alert_rows(payload: NotificationIn, rules: RuleSet, now: datetime) -> list[dict[str, Any]]:
    """One row per distinct alert, in key order. The same alert twice in one payload: the last one
    wins (one row can't be upserted twice)."""
    rows = {}
    for alert in payload.alerts:
        row = _alert_row(alert, payload, rules, now)
        rows[(row["fingerprint"], row["starts_at"])] = row
    # In key order: concurrent notifications with overlapping alerts then lock rows in the same
    # order, so PostgreSQL cannot deadlock on them.
    return [rows[key] for key in sorted(rows)]


def _set_incident(rows: list[dict[str, Any]], incident_id: int) -> None:
    for row in rows:
        row["incident_id"] = incident_id


@functools.cache
def _upsert(dialect: str) -> Any:
    """One statement for every chunk, executed with a list of rows: SQLAlchemy caches its compiled
    form and batches the rows ("insertmanyvalues"); a multi-row .values() is compiled anew each time."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(ALERTS)
    excluded = stmt.excluded
    updates = {
        name: getattr(excluded, name)
        for name in (
            "status",
            "ends_at",
            "annotations",
            "summary",
            "generator_url",
            "group_key",
            "receiver",
            "external_url",
            "last_received_at",
        )
    }
    updates["times_notified"] = ALERTS.c.times_notified + 1
    updates["incident_id"] = incidents.assign_incident(excluded.incident_id)
    return stmt.on_conflict_do_update(index_elements=["fingerprint", "starts_at"], set_=updates).returning(
        ALERTS.c.id,
        ALERTS.c.times_notified,
        ALERTS.c.status,
        ALERTS.c.action,
        ALERTS.c.fingerprint,
        ALERTS.c.matched_rule_name,
        ALERTS.c.severity,
        ALERTS.c.starts_at,
    )


@functools.cache
def _insert_notification() -> Any:
    table = Notification.__table__  # type: ignore[attr-defined]
    return sa.insert(table).returning(table.c.id)


async def ingest_notification(
    session: AsyncSession, payload: NotificationIn, *, off_loop: bool = False
) -> IngestResult:
    """Store a notification and its alerts in the session's transaction (the caller commits).
    `off_loop`: build the rows in a worker thread (a large payload); implied above OFF_LOOP_ALERTS."""
    now = utcnow()
    rules = await current_rule_set(session)
    # Before the first write, so that the transaction does not hold its locks meanwhile.
    if off_loop or len(payload.alerts) > OFF_LOOP_ALERTS:
        values = await asyncio.to_thread(_alert_rows, payload, rules, now)
    else:
        values = _alert_rows(payload, rules, now)
    # Core, not the ORM: this runs once per webhook and the ORM's unit of work costs more than the insert.
    notification_id: int = (
        await session.exec(
            _insert_notification(),
            params={
                "received_at": now,
                "receiver": _cut(payload.receiver),
                "status": _cut(payload.status, 16),
                "group_key": payload.group_key,
                "group_labels": payload.group_labels,
                "common_labels": payload.common_labels,
                "common_annotations": payload.common_annotations,
                "external_url": payload.external_url,
                "alert_count": len(payload.alerts),
                "truncated_alerts": payload.truncated_alerts,
            },
        )
    ).scalar_one()
    result = IngestResult(notification_id=notification_id, received=len(payload.alerts))
    # Before the alerts: the incident's row lock orders notifications of one group (incidents.py).
    incident = await incidents.incident_for(session, payload, now)
    if incident is not None:
        result.incident_id = incident.id
        if len(values) > OFF_LOOP_ALERTS:
            await asyncio.to_thread(_set_incident, values, incident.id)
        else:
            _set_incident(values, incident.id)

    dialect = session.get_bind().dialect.name
    actions: Counter[str] = Counter()
    links = []
    wanted: list[tuple[int, str, str]] = []
    order: dict[int, tuple[str, datetime]] = {}  # severity and start of each wanted alert (storm control)
    created: list[tuple[int, str, str]] = []  # new alerts, for the notification routes that want them
    upsert = _upsert(dialect)
    for start in range(0, len(values), CHUNK):
        returned = await session.exec(upsert, params=values[start : start + CHUNK])
        for alert_id, times, status, action, fingerprint, rule_name, severity, starts_at in returned:
            result.alert_ids.append(alert_id)
            links.append(
                {"alert_id": alert_id, "notification_id": notification_id, "status": status, "received_at": now}
            )
            actions[action] += 1
            if times == 1:
                result.created += 1
                created.append((alert_id, fingerprint, status))
                if status == AlertStatus.FIRING and action == RuleAction.AUTO_ANALYZE:
                    wanted.append((alert_id, fingerprint, rule_name))
                    order[alert_id] = (severity, starts_at)
            else:
                result.updated += 1
    for start in range(0, len(links), CHUNK):
        await session.exec(sa.insert(LINKS), params=links[start : start + CHUNK])
    result.by_action = dict(actions)
    await notify_events.alerts_created(session, created, values)
    if incident is not None and await incidents.update_counts(session, incident, now) is None:
        incident = result.incident_id = None
    queued = await storm.queue_analyses(session, incident, wanted, order, now)
    result.to_analyze = [*queued.alert_ids, *([queued.incident_job] if queued.incident_job else [])]
    result.storm, result.calls_saved = queued.storm, queued.saved
    return result


async def receive_notification(payload: NotificationIn, *, off_loop: bool = False) -> IngestResult:
    """Ingest, commit, then tell open pages. Raises on database errors (the webhook maps them).
    `off_loop`: a large payload, see ingest_notification."""
    async with async_session() as session:
        result = await ingest_notification(session, payload, off_loop=off_loop)
        await session.commit()
    log.info(
        "notification stored",
        extra={
            "receiver": payload.receiver,
            "alerts": result.received,
            "alerts_created": result.created,
            "alerts_updated": result.updated,
            "by_action": result.by_action,
            "analyses_queued": len(result.to_analyze),
            "incident_id": result.incident_id,
        },
    )
    if result.calls_saved:
        metrics.record_storm_calls_saved(result.calls_saved)
        log.info(
            "storm control: the incident is analysed as a group",
            extra={"incident_id": result.incident_id, "calls_saved": result.calls_saved},
        )
    if result.alert_ids:
        await bus.publish(
            "alerts", ids=result.alert_ids[:100], count=len(result.alert_ids), incident_id=result.incident_id
        )
    if result.to_analyze:
        await bus.publish(jobs.JOBS_TOPIC, queued=len(result.to_analyze))
    return result


async def prune_notifications(session: AsyncSession, older_than: timedelta) -> int:
    """Delete notifications (and their timeline links) older than the retention period."""
    cutoff = utcnow() - older_than
    old_ids = select(Notification.id).where(col(Notification.received_at) < cutoff)
    await session.exec(delete(AlertNotification).where(col(AlertNotification.notification_id).in_(old_ids)))
    deleted = await session.exec(delete(Notification).where(col(Notification.received_at) < cutoff))
    return int(deleted.rowcount or 0)
