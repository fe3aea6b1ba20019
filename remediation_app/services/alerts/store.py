"""Reading alerts: filtered pages, one alert with its timeline, and their public JSON shape."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import aliased, defer
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.models import (
    Alert,
    AlertNotification,
    AlertStatus,
    Analysis,
    AnalysisJob,
    JobStatus,
    Notification,
    RuleAction,
)
from remediation_app.services.alerts.filters import (
    ACTIVITY_ORDER,
    am_clause,
    label_clauses,
    order_by,
    severity_clause,
)
from remediation_app.services.alerts.filters import (
    AlertFilter as AlertFilter,  # where callers have always found it
)
from remediation_app.services.alerts.incident_analysis import incident_analysis_states
from remediation_app.services.records import columns, isoformat
from remediation_app.services.text import storable_text

MAX_PAGE = 100
# Not loaded for lists (the list shape never shows them): an alert may carry megabytes of labels.
# Reading one of them on a listed alert raises instead of loading it.
_NOT_LISTED: tuple[Any, ...] = (
    Alert.labels,
    Alert.annotations,
    Alert.generator_url,
    Alert.group_key,
    Alert.match_reason,
)
MAX_QUERY = 200
# An alert's analysis state as lists show it: its latest job's status, in the user's words.
ANALYSIS_STATES = {
    JobStatus.PENDING.value: "queued",
    JobStatus.RUNNING.value: "running",
    JobStatus.FAILED.value: "failed",
    JobStatus.CANCELLED.value: "cancelled",
    JobStatus.SUCCEEDED.value: "done",
}
NO_ANALYSIS = "none"
ANALYSIS_FILTERS = (NO_ANALYSIS, *ANALYSIS_STATES.values())


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _where(flt: AlertFilter) -> list[Any]:
    clauses: list[Any] = []
    if flt.action:
        clauses.append(col(Alert.action) == flt.action)
    else:
        clauses.append(col(Alert.action) != RuleAction.IGNORE.value)
    if flt.status:
        clauses.append(col(Alert.status) == flt.status)
    # Cleaned as stored text is (PostgreSQL refuses NUL even as a parameter): %00 finds stored U+FFFD.
    if flt.severity:
        clauses.append(severity_clause(flt.severity))
    if flt.am:
        clauses.append(am_clause(flt.am))
    text = storable_text(flt.q).strip()[:MAX_QUERY]
    if text:
        pattern = f"%{_like_escape(text)}%"
        clauses.append(
            sa.or_(*(col(c).ilike(pattern, escape="\\") for c in (Alert.alertname, Alert.instance, Alert.summary)))
        )
    if flt.analysis:
        clauses.append(_analysis_clause(flt.analysis))
    return clauses


def _analysis_clause(state: str) -> Any:
    """Alerts whose latest job (highest id) is in `state`; "none": alerts without any job."""
    if state == NO_ANALYSIS:
        return ~sa.exists().where(col(AnalysisJob.alert_id) == col(Alert.id))
    statuses = [status for status, shown in ANALYSIS_STATES.items() if shown == state]
    newer = aliased(AnalysisJob)
    latest_in_state = (
        select(AnalysisJob.alert_id)
        .where(col(AnalysisJob.status).in_(statuses))
        .where(
            ~sa.exists().where(col(newer.alert_id) == col(AnalysisJob.alert_id), col(newer.id) > col(AnalysisJob.id))
        )
    )
    return col(Alert.id).in_(latest_in_state)


async def filter_clauses(session: AsyncSession, flt: AlertFilter) -> list[Any]:
    """The WHERE clauses of `flt`, its label matchers included (MatcherError: see filters.py)."""
    clauses = _where(flt)
    return [*clauses, *await label_clauses(session, flt.labels, clauses)]


async def list_alerts(
    session: AsyncSession, flt: AlertFilter, *, sort: str = ACTIVITY_ORDER, limit: int = 50, offset: int = 0
) -> tuple[list[Alert], int]:
    """One page in `sort` order (filters.py: newest activity first by default, "" the board's order),
    and the total that matches (without the alerts' labels, annotations, generator URL, group key
    and match reason: see _NOT_LISTED). Raises MatcherError for a label filter it cannot apply."""
    limit = max(1, min(limit, MAX_PAGE))
    clauses = await filter_clauses(session, flt)
    total = (await session.exec(select(func.count()).select_from(Alert).where(*clauses))).one()
    rows = await session.exec(
        select(Alert)
        .options(*(defer(c, raiseload=True) for c in _NOT_LISTED))
        .where(*clauses)
        .order_by(*order_by(sort))
        .limit(limit)
        .offset(max(0, offset))
    )
    return list(rows.all()), int(total)


@dataclass(frozen=True)
class AnalysisState:
    """Where an alert's analysis stands: its latest job's state and its latest analysis' urgency."""

    status: str = NO_ANALYSIS
    urgency: str | None = None

    def public(self) -> dict[str, str | None]:
        return {"status": self.status, "urgency": self.urgency}


async def analysis_states(session: AsyncSession, alert_ids: Sequence[int]) -> dict[int, AnalysisState]:
    """The analysis state of each alert of a page, in two queries whatever the page's size.

    "Latest" is the highest id (ids grow with creation on SQLite and PostgreSQL). The urgency is the
    latest analysis' even while a newer job is queued, running or failed; None when it had none."""
    ids = sorted(set(alert_ids))
    if not ids:
        return {}
    latest_jobs = (
        select(func.max(AnalysisJob.id)).where(col(AnalysisJob.alert_id).in_(ids)).group_by(col(AnalysisJob.alert_id))
    )
    jobs = await session.exec(
        select(AnalysisJob.alert_id, AnalysisJob.status).where(col(AnalysisJob.id).in_(latest_jobs))
    )
    latest_analyses = (
        select(func.max(Analysis.id)).where(col(Analysis.alert_id).in_(ids)).group_by(col(Analysis.alert_id))
    )
    analyses = await session.exec(
        select(Analysis.alert_id, Analysis.urgency).where(col(Analysis.id).in_(latest_analyses))
    )
    urgency = {alert_id: value or None for alert_id, value in analyses.all()}
    return {
        alert_id: AnalysisState(ANALYSIS_STATES.get(status, status), urgency.get(alert_id))
        for alert_id, status in jobs.all()
    }


async def alert_summaries(session: AsyncSession, alerts: Sequence[Alert]) -> list[dict[str, Any]]:
    """A page of alerts in the list shape, each with its analysis state (two queries in all; more when
    alerts without a job of their own belong to incidents: they show their incident's group analysis)."""
    states = await analysis_states(session, [a.id for a in alerts if a.id is not None])
    uncovered = {a.incident_id for a in alerts if a.incident_id is not None and (a.id or 0) not in states}
    if uncovered:
        groups = await incident_analysis_states(session, uncovered, group_only=True)
        for a in alerts:
            if a.incident_id in groups and (a.id or 0) not in states:
                status, urgency = groups[a.incident_id]
                states[a.id or 0] = AnalysisState(ANALYSIS_STATES.get(status, status), urgency)
    none = AnalysisState()
    return [{**alert_summary(a), "analysis": states.get(a.id or 0, none).public()} for a in alerts]


async def get_alert(session: AsyncSession, alert_id: int) -> Alert | None:
    return await session.get(Alert, alert_id)


async def firing_by_fingerprint(
    session: AsyncSession, fingerprints: Sequence[str], *, limit: int = 10
) -> dict[str, int]:
    """fingerprint -> id of the newest firing alert with it, for the first `limit` fingerprints (the
    alerts Alertmanager says inhibit another one, as links on its page)."""
    wanted = [str(f)[:128] for f in fingerprints[:limit]]
    if not wanted:
        return {}
    rows = await session.exec(
        select(Alert.fingerprint, Alert.id)
        .where(col(Alert.fingerprint).in_(wanted), col(Alert.status) == AlertStatus.FIRING.value)
        .order_by(col(Alert.id))
    )
    return {fingerprint: alert_id for fingerprint, alert_id in rows.all() if alert_id is not None}


async def alert_timeline(session: AsyncSession, alert_id: int, *, limit: int = 200) -> list[dict[str, Any]]:
    """The notifications that carried this alert, newest first (within the retention period)."""
    rows = await session.exec(
        select(AlertNotification, Notification)
        .join(Notification, col(Notification.id) == col(AlertNotification.notification_id))
        .where(col(AlertNotification.alert_id) == alert_id)
        .order_by(col(AlertNotification.received_at).desc(), col(AlertNotification.id).desc())
        .limit(limit)
    )
    return [
        {
            "notification_id": link.notification_id,
            "received_at": link.received_at.isoformat(),
            "status": link.status,
            "receiver": note.receiver,
            "group_key": note.group_key,
        }
        for link, note in rows.all()
    ]


def alert_summary(alert: Alert) -> dict[str, Any]:
    """The list shape (API and dashboard)."""
    return {
        **columns(alert, "id", "fingerprint", "status", "alertname", "severity", "instance", "job", "summary"),
        "action": alert.action,
        "starts_at": alert.starts_at.isoformat(),
        "ends_at": isoformat(alert.ends_at),
        "first_received_at": alert.first_received_at.isoformat(),
        "last_received_at": alert.last_received_at.isoformat(),
        "times_notified": alert.times_notified,
        "incident_id": alert.incident_id,
    }


def alert_detail(alert: Alert) -> dict[str, Any]:
    return {
        **alert_summary(alert),
        **columns(alert, "labels", "annotations", "generator_url", "group_key", "receiver"),
        # Alertmanager's view (the sync loop) and the ack.
        **columns(alert, "external_url", "am_state", "am_silenced_by", "am_inhibited_by", "am_synced_at"),
        **columns(alert, "acked_by", "acked_at"),
        "matched_rule": {
            "id": alert.matched_rule_id,
            "name": alert.matched_rule_name,
            "reason": alert.match_reason,
        },
    }
