"""The analysis job queue, in the database: what queues jobs (the rules at ingest, a user's request)
and what reads them back (the API and the alert page). The worker's side (claim, lease, finish) is
claims.py.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.crypto import DecryptionError
from remediation_app.models import IN_FLIGHT, Alert, Analysis, AnalysisJob, JobStatus, User, utcnow
from remediation_app.services.llm import providers
from remediation_app.settings import get_settings

log = logging.getLogger(__name__)
JOBS = AnalysisJob.__table__  # type: ignore[attr-defined]
# Literal (as in the partial index's definition): a bound IN list cannot go into an executemany.
IN_FLIGHT_WHERE = sa.text("status IN ('pending', 'running')")
JOBS_TOPIC = "jobs"
ANALYSIS_TOPIC = "analysis"


class AnalysisRefused(Exception):
    """A user's request that cannot be queued; `status` is the HTTP status that fits."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def _insert(dialect: str) -> Any:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(JOBS).on_conflict_do_nothing(index_elements=["alert_id"], index_where=IN_FLIGHT_WHERE)


async def fresh_alerts(session: AsyncSession, alerts: list[tuple[int, str, str]]) -> list[tuple[int, str, str]]:
    """The alerts (alert_id, fingerprint, rule name) a rule would queue an analysis for: not those whose
    fingerprint is in flight or was analysed within ANALYSIS_DEDUP_MINUTES, each fingerprint once."""
    if not alerts:
        return []
    now = utcnow()
    fingerprints = sorted({fp for _, fp, _ in alerts})
    recent = sa.or_(
        col(AnalysisJob.status).in_(IN_FLIGHT),
        sa.and_(
            col(AnalysisJob.status) == JobStatus.SUCCEEDED.value,
            col(AnalysisJob.finished_at) >= now - timedelta(minutes=get_settings().analysis_dedup_minutes),
        ),
    )
    seen: set[str] = set()
    for start in range(0, len(fingerprints), 500):
        chunk = fingerprints[start : start + 500]
        rows = await session.exec(
            select(AnalysisJob.fingerprint).where(col(AnalysisJob.fingerprint).in_(chunk), recent).distinct()
        )
        seen.update(rows.all())
    fresh = []
    for alert in alerts:
        if alert[1] not in seen:
            seen.add(alert[1])  # the same fingerprint twice in one notification: analysed once
            fresh.append(alert)
    return fresh


def _automatic_job(alert_id: int, fingerprint: str, rule_name: str, incident_id: int | None = None) -> dict[str, Any]:
    now = utcnow()
    return {
        "alert_id": alert_id,
        "fingerprint": fingerprint,
        "status": JobStatus.PENDING.value,
        "incident_id": incident_id,
        "provider_id": None,
        "automatic": True,
        "requested_by": f"rule:{rule_name or 'default action'}"[:255],
        "requested_by_user_id": None,
        "attempts": 0,
        "max_attempts": get_settings().analysis_max_attempts,
        "next_attempt_at": now,
        "locked_by": "",
        "last_error": "",
        "created_at": now,
        "updated_at": now,
    }


async def enqueue_automatic(session: AsyncSession, alerts: list[tuple[int, str, str]]) -> list[int]:
    """Queue rule-requested analyses for new firing alerts (alert_id, fingerprint, rule name), in the
    caller's transaction. Skips fingerprints in flight or analysed within ANALYSIS_DEDUP_MINUTES.
    Returns the alert ids queued."""
    values = [_automatic_job(*alert) for alert in await fresh_alerts(session, alerts)]
    if values:
        await session.exec(_insert(session.get_bind().dialect.name), params=values)
    return [v["alert_id"] for v in values]


async def enqueue_incident(session: AsyncSession, incident_id: int, alert: tuple[int, str, str]) -> bool:
    """Queue one analysis of a whole incident (storm control), run for its representative `alert`
    (alert_id, fingerprint, rule name), in the caller's transaction; False when that alert has a job
    in flight already."""
    queued = await session.exec(
        _insert(session.get_bind().dialect.name).returning(JOBS.c.id),
        params=_automatic_job(*alert, incident_id=incident_id),
    )
    return queued.first() is not None


async def incident_job_wanted(session: AsyncSession, incident_id: int) -> bool:
    """No analysis of the incident is in flight, nor succeeded within ANALYSIS_DEDUP_MINUTES."""
    since = utcnow() - timedelta(minutes=get_settings().analysis_dedup_minutes)
    found = await session.exec(
        select(AnalysisJob.id)
        .where(
            col(AnalysisJob.incident_id) == incident_id,
            sa.or_(
                col(AnalysisJob.status).in_(IN_FLIGHT),
                sa.and_(col(AnalysisJob.status) == JobStatus.SUCCEEDED.value, col(AnalysisJob.finished_at) >= since),
            ),
        )
        .limit(1)
    )
    return found.first() is None


async def cancel_for_incident(session: AsyncSession, incident_id: int) -> int:
    """Cancel the queued automatic analyses of single alerts of the incident (a group analysis covers
    them now); returns how many."""
    now = utcnow()
    alert_ids = select(Alert.id).where(col(Alert.incident_id) == incident_id)
    cancelled = await session.exec(
        sa.update(JOBS)
        .where(
            JOBS.c.status == JobStatus.PENDING.value,
            JOBS.c.automatic.is_(True),
            JOBS.c.incident_id.is_(None),
            JOBS.c.alert_id.in_(alert_ids),
        )
        .values(
            status=JobStatus.CANCELLED.value,
            finished_at=now,
            updated_at=now,
            last_error="cancelled: its incident is analysed as a group (storm control)",
        )
    )
    return int(cancelled.rowcount or 0)


async def request_analysis(
    session: AsyncSession, alert_id: int, *, user: User, provider_id: int | None = None
) -> AnalysisJob:
    """A user asks for an analysis now (also bypasses the dedup window and the daily budget).

    A queued automatic job for the alert becomes this request; a running one refuses (409). The
    caller commits."""
    alert = await session.get(Alert, alert_id)
    if alert is None:
        raise AnalysisRefused("alert not found", 404)
    try:
        config = await providers.resolve(session, provider_id)
    except providers.ProviderUnavailable as exc:
        raise AnalysisRefused(str(exc), 422) from exc
    except DecryptionError as exc:  # ENCRYPTION_KEY lost its old key: an admin re-enters the API key
        raise AnalysisRefused(f"{exc}; an admin must enter the provider's API key again", 409) from exc
    if config is None:
        raise AnalysisRefused(
            "no LLM provider is configured: an admin adds one on the LLM providers page (/admin/providers) "
            "or sets LLM_MODEL",
            409,
        )
    now = utcnow()
    requested_by = f"user:{user.username}"[:255]
    current = await in_flight_job(session, alert_id)
    if current is not None:
        if current.status == JobStatus.RUNNING.value:
            raise AnalysisRefused("an analysis of this alert is already running", 409)
        # The user's request takes over the queued job and starts afresh (all its attempts, now), but
        # only while it is still queued: a worker may claim it this instant.
        taken = await session.exec(
            sa.update(JOBS)
            .where(JOBS.c.id == current.id, JOBS.c.status == JobStatus.PENDING.value)
            .values(
                automatic=False,
                provider_id=provider_id,
                requested_by=requested_by,
                requested_by_user_id=user.id,
                attempts=0,
                last_error="",
                next_attempt_at=now,
                updated_at=now,
            )
        )
        if not taken.rowcount:
            raise AnalysisRefused("an analysis of this alert is already running", 409)
        await session.refresh(current)
        return current
    job = AnalysisJob(
        alert_id=alert_id,
        fingerprint=alert.fingerprint,
        provider_id=provider_id,
        automatic=False,
        requested_by=requested_by,
        requested_by_user_id=user.id,
        max_attempts=get_settings().analysis_max_attempts,
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
    )
    try:
        async with session.begin_nested():
            session.add(job)
    except sa.exc.IntegrityError as exc:  # another request queued one this instant
        raise AnalysisRefused("an analysis of this alert was just queued", 409) from exc
    return job


async def in_flight_job(session: AsyncSession, alert_id: int) -> AnalysisJob | None:
    rows = await session.exec(
        select(AnalysisJob).where(col(AnalysisJob.alert_id) == alert_id, col(AnalysisJob.status).in_(IN_FLIGHT))
    )
    return rows.first()


async def queue_counts(session: AsyncSession) -> dict[str, int]:
    rows = await session.exec(select(AnalysisJob.status, func.count()).group_by(col(AnalysisJob.status)))
    return {status: int(count) for status, count in rows.all()}


def _incident_of(alert_id: int) -> Any:
    return select(Alert.incident_id).where(col(Alert.id) == alert_id).scalar_subquery()


async def latest_job(session: AsyncSession, alert_id: int) -> AnalysisJob | None:
    """The alert's latest job, its own or its incident's (a group analysis covers every alert of it)."""
    rows = await session.exec(
        select(AnalysisJob)
        .where(sa.or_(col(AnalysisJob.alert_id) == alert_id, col(AnalysisJob.incident_id) == _incident_of(alert_id)))
        .order_by(col(AnalysisJob.created_at).desc(), col(AnalysisJob.id).desc())
        .limit(1)
    )
    return rows.first()


async def analyses_for(session: AsyncSession, alert_id: int, *, limit: int = 20) -> list[Analysis]:
    """The alert's analyses, newest first: its own and its incident's (`incident_id` set: a group
    analysis, storm control, that covers every alert of the incident)."""
    rows = await session.exec(
        select(Analysis)
        .where(sa.or_(col(Analysis.alert_id) == alert_id, col(Analysis.incident_id) == _incident_of(alert_id)))
        .order_by(col(Analysis.created_at).desc(), col(Analysis.id).desc())
        .limit(limit)
    )
    return list(rows.all())


async def incident_analysis(session: AsyncSession, incident_id: int) -> Analysis | None:
    """The latest group analysis of the incident (storm control), if any."""
    rows = await session.exec(
        select(Analysis)
        .where(col(Analysis.incident_id) == incident_id)
        .order_by(col(Analysis.created_at).desc(), col(Analysis.id).desc())
        .limit(1)
    )
    return rows.first()


async def incident_latest_job(session: AsyncSession, incident_id: int) -> AnalysisJob | None:
    rows = await session.exec(
        select(AnalysisJob)
        .where(col(AnalysisJob.incident_id) == incident_id)
        .order_by(col(AnalysisJob.created_at).desc(), col(AnalysisJob.id).desc())
        .limit(1)
    )
    return rows.first()
