"""Incidents: the alerts Alertmanager grouped under one groupKey, from the first firing notification
until none of them fires (the same groupKey firing again later opens a new incident).

Ingest (services/alerts/ingest.py) calls `incident_for` in the notification's transaction, before it
upserts the alerts: the group's open incident, locked for the rest of the transaction, or a new one.
The upsert sets the alerts' incident_id, then `update_counts` recounts the incident from its alerts
(firing, total, highest severity) and resolves it when none fires. Core statements, as ingest uses:
this runs once per webhook.

Concurrency: two first notifications of one group at once open one incident. A unique partial index
(one open incident per group_key) makes the second INSERT do nothing; it then finds the first one's
row. On PostgreSQL the row is locked (FOR UPDATE) until commit, so notifications of one group are
counted one after the other; SQLite has one writer at a time anyway.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import defer
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.models import SHORT, Alert, AlertStatus, Incident
from remediation_app.services.alertmanager.payload import NotificationIn
from remediation_app.services.alerts.incident_analysis import incident_analysis_states
from remediation_app.services.alerts.store import _NOT_LISTED, ANALYSIS_STATES, AnalysisState
from remediation_app.services.records import columns, isoformat

log = logging.getLogger(__name__)
INCIDENTS = Incident.__table__  # type: ignore[attr-defined]
ALERTS = Alert.__table__  # type: ignore[attr-defined]
OPEN, RESOLVED = "open", "resolved"
STATUSES = (OPEN, RESOLVED)
OPEN_WHERE = sa.text("status = 'open'")  # as in the partial index's definition
# Severity order, highest first; anything else ranks below "info".
SEVERITY_RANK = {"critical": 4, "error": 3, "warning": 2, "info": 1}
# Longer groupKeys are stored as their hash: a PostgreSQL index entry holds at most ~2,700 bytes.
GROUP_KEY_MAX = 1000
MAX_PAGE = 100
ALERTS_SHOWN = 200  # an incident page lists this many of its alerts (firing and most severe first)


def severity_rank(severity: str) -> int:
    return SEVERITY_RANK.get(severity.lower(), 0)


# The same order in SQL (for listing an incident's alerts most severe first).
SEVERITY_RANK_SQL = sa.case(SEVERITY_RANK, value=ALERTS.c.severity, else_=0)


def incident_key(group_key: str) -> str:
    """What incidents.group_key stores for a notification's groupKey."""
    if len(group_key) <= GROUP_KEY_MAX:
        return group_key
    return "sha256:" + hashlib.sha256(group_key.encode()).hexdigest()


def incident_title(payload: NotificationIn) -> str:
    """ "DiskFull (cluster=prod, team=storage)": the group's alertname and its other group labels."""
    labels = payload.group_labels or payload.common_labels
    name = labels.get("alertname") or (payload.alerts[0].labels.get("alertname", "") if payload.alerts else "")
    rest = ", ".join(f"{k}={v}" for k, v in sorted(labels.items())[:10] if k != "alertname")
    title = f"{name} ({rest})" if name and rest else name or rest or "(no group labels)"
    return title if len(title) <= SHORT else title[: SHORT - 1] + "…"


@dataclass(frozen=True)
class IncidentRef:
    """The incident a notification belongs to, as ingest needs it."""

    id: int
    storm: bool
    opened: bool  # opened by this notification


@functools.cache
def _insert_open(dialect: str) -> Any:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (
        insert(INCIDENTS)
        .on_conflict_do_nothing(index_elements=["group_key"], index_where=OPEN_WHERE)
        .returning(INCIDENTS.c.id)
    )


def _find_open(key: str) -> Any:
    return (
        sa.select(INCIDENTS.c.id, INCIDENTS.c.storm)
        .where(INCIDENTS.c.group_key == key, INCIDENTS.c.status == OPEN)
        .with_for_update()
    )


async def incident_for(session: AsyncSession, payload: NotificationIn, now: datetime) -> IncidentRef | None:
    """The open incident of the notification's groupKey (locked until commit on PostgreSQL), or a new
    one when the notification has a firing alert; None without a groupKey or when nothing fires and
    no incident is open (a late "resolved" for a closed incident)."""
    if not payload.group_key:
        return None
    key = incident_key(payload.group_key)
    firing = any(alert.status == AlertStatus.FIRING.value for alert in payload.alerts)
    dialect = session.get_bind().dialect.name
    # Found, or inserted; or neither when another transaction opened it and resolved it meanwhile.
    for _attempt in range(3):
        found = (await session.exec(_find_open(key))).first()
        if found is not None:
            return IncidentRef(id=found[0], storm=bool(found[1]), opened=False)
        if not firing:
            return None
        inserted = (
            await session.exec(
                _insert_open(dialect),
                params={
                    "group_key": key,
                    "receiver": payload.receiver[:SHORT],
                    "group_labels": payload.group_labels,
                    "title": incident_title(payload),
                    "status": OPEN,
                    "severity": "",
                    "alert_count": 0,
                    "firing_count": 0,
                    "opened_at": now,
                    "last_notified_at": now,
                    "resolved_at": None,
                    "storm": False,
                },
            )
        ).first()
        if inserted is not None:
            return IncidentRef(id=inserted[0], storm=False, opened=True)
    log.warning("no incident for a notification: its group's incident kept changing meanwhile")
    return None


def assign_incident(incident_id: Any) -> Any:
    """The upsert's SET for alerts.incident_id (`incident_id`: the excluded row's value): an alert
    keeps its incident unless it has none, or it fires again while its old incident is closed. So an
    alert that two receivers group differently stays in the first incident that took it."""
    still_open = sa.exists().where(INCIDENTS.c.id == ALERTS.c.incident_id, INCIDENTS.c.status == OPEN)
    return sa.case(
        (incident_id.is_(None), ALERTS.c.incident_id),
        (ALERTS.c.incident_id.is_(None), incident_id),
        (sa.and_(ALERTS.c.status == AlertStatus.FIRING.value, ~still_open), incident_id),
        else_=ALERTS.c.incident_id,
    )


@dataclass(frozen=True)
class Counts:
    alerts: int
    firing: int
    severity: str


@functools.cache
def _recount() -> Any:
    """One UPDATE that recounts an incident from its alerts: totals, the highest severity (of what
    fires; of all once nothing does), and resolved when nothing fires."""
    incident = sa.bindparam("incident_id", type_=sa.Integer())
    now = sa.bindparam("now", type_=INCIDENTS.c.last_notified_at.type)
    mine = ALERTS.c.incident_id == incident
    firing = sa.and_(mine, ALERTS.c.status == AlertStatus.FIRING.value)

    def count(where: Any) -> Any:
        return sa.select(sa.func.count()).select_from(ALERTS).where(where).scalar_subquery()

    fires = sa.exists().where(firing)
    severity = (
        sa.select(ALERTS.c.severity)
        .where(mine)
        .order_by((ALERTS.c.status == AlertStatus.FIRING.value).desc(), SEVERITY_RANK_SQL.desc())
        .limit(1)
        .scalar_subquery()
    )
    return (
        sa.update(INCIDENTS)
        .where(INCIDENTS.c.id == incident)
        .values(
            alert_count=count(mine),
            firing_count=count(firing),
            severity=sa.func.coalesce(severity, ""),
            last_notified_at=now,
            status=sa.case((fires, OPEN), else_=RESOLVED),
            resolved_at=sa.case((fires, None), else_=now),
        )
        .returning(INCIDENTS.c.alert_count, INCIDENTS.c.firing_count, INCIDENTS.c.severity)
    )


async def update_counts(session: AsyncSession, ref: IncidentRef, now: datetime) -> Counts | None:
    """Recount the incident from its alerts (in the caller's transaction, which holds its lock) and
    resolve it when none fires. An incident this notification opened that got no alert (they all
    belong to another open incident) is removed again: None."""
    alerts, firing, severity = (await session.exec(_recount(), params={"incident_id": ref.id, "now": now})).one()
    if not alerts and ref.opened:
        await session.exec(sa.delete(INCIDENTS).where(INCIDENTS.c.id == ref.id))
        return None
    return Counts(alerts=alerts, firing=firing, severity=severity)


async def mark_storm(session: AsyncSession, incident_id: int) -> None:
    await session.exec(sa.update(INCIDENTS).where(INCIDENTS.c.id == incident_id).values(storm=True))


# --- reading ----------------------------------------------------------------------------------------


async def list_incidents(
    session: AsyncSession, *, status: str = "", limit: int = 50, offset: int = 0
) -> tuple[list[Incident], int]:
    """One page, most recently notified first, and the total that matches (`status`: open, resolved
    or "" for both)."""
    limit = max(1, min(limit, MAX_PAGE))
    clauses = [col(Incident.status) == status] if status else []
    total = (await session.exec(select(func.count()).select_from(Incident).where(*clauses))).one()
    rows = await session.exec(
        select(Incident)
        .where(*clauses)
        .order_by(col(Incident.last_notified_at).desc(), col(Incident.id).desc())
        .limit(limit)
        .offset(max(0, offset))
    )
    return list(rows.all()), int(total)


async def get_incident(session: AsyncSession, incident_id: int) -> Incident | None:
    return await session.get(Incident, incident_id)


def incident_alerts_query(incident_id: int) -> Any:
    """The incident's alerts, firing first, then most severe, then earliest."""
    return (
        select(Alert)
        .where(col(Alert.incident_id) == incident_id)
        .order_by(
            (col(Alert.status) == AlertStatus.FIRING.value).desc(),
            SEVERITY_RANK_SQL.desc(),
            col(Alert.starts_at),
            col(Alert.id),
        )
    )


async def incident_alerts(
    session: AsyncSession, incident_id: int, *, limit: int = ALERTS_SHOWN, listed: bool = False
) -> list[Alert]:
    """The first `limit` alerts of the incident; `listed`: without the columns lists never show (an
    alert may carry megabytes of labels), as store.list_alerts reads them."""
    query = incident_alerts_query(incident_id).limit(limit)
    if listed:
        query = query.options(*(defer(c, raiseload=True) for c in _NOT_LISTED))
    return list((await session.exec(query)).all())


def incident_summary(incident: Incident) -> dict[str, Any]:
    """The list shape (API and pages)."""
    return {
        **columns(incident, "id", "title", "status", "severity", "alert_count", "firing_count", "storm"),
        **columns(incident, "receiver", "group_labels"),
        "opened_at": incident.opened_at.isoformat(),
        "last_notified_at": incident.last_notified_at.isoformat(),
        "resolved_at": isoformat(incident.resolved_at),
    }


async def incident_summaries(session: AsyncSession, rows: Sequence[Incident]) -> list[dict[str, Any]]:
    """A page of incidents in the list shape, each with where its analysis stands (the latest job of
    any of its alerts or of the group, and the latest analysis' urgency)."""
    states = await incident_analysis_states(session, [i.id for i in rows if i.id is not None])
    none = AnalysisState()
    shown = []
    for incident in rows:
        state = states.get(incident.id or 0)
        analysis = AnalysisState(ANALYSIS_STATES.get(state[0], state[0]), state[1]) if state else none
        shown.append({**incident_summary(incident), "analysis": analysis.public()})
    return shown
