"""The worker's side of the analysis queue: claim a job (SKIP LOCKED), hold its lease, finish it.

A job moves pending -> running -> succeeded | failed (or back to pending for a retry); automatic
jobs may end cancelled (alert resolved, or waited too long). Every write after the claim is fenced
by `locked_by`: a worker whose lease ran out (and whose job another worker took over) changes
nothing, so a job's analysis is stored exactly once.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.models import Analysis, Evidence, JobStatus, utcnow
from remediation_app.services.llm.jobs import JOBS
from remediation_app.services.notify import events as notify_events
from remediation_app.settings import get_settings


@dataclass(frozen=True)
class ClaimedJob:
    id: int
    alert_id: int
    provider_id: int | None
    automatic: bool
    attempts: int
    max_attempts: int
    requested_by: str
    requested_by_user_id: int | None
    created_at: datetime
    # Storm control: the job analyses this incident as a whole (its alerts as data).
    incident_id: int | None = None


async def claim(session: AsyncSession, worker: str, *, include_automatic: bool = True) -> ClaimedJob | None:
    """Take the next ready job (or one whose lease expired) and lease it to `worker`; the caller commits.

    PostgreSQL: FOR UPDATE SKIP LOCKED, so concurrent claimers never take the same row. SQLite has
    one writer at a time, so the single UPDATE is atomic there."""
    now = utcnow()
    lease = timedelta(seconds=get_settings().analysis_lease_seconds)
    # A job whose worker died on every attempt (it may be what kills it) is not run again.
    await session.exec(
        sa.update(JOBS)
        .where(
            JOBS.c.status == JobStatus.RUNNING.value,
            JOBS.c.lease_expires_at < now,
            JOBS.c.attempts >= JOBS.c.max_attempts,
        )
        .values(
            status=JobStatus.FAILED.value,
            finished_at=now,
            updated_at=now,
            lease_expires_at=None,
            last_error="the worker running it stopped on every attempt (lease expired)",
        )
    )
    ready = sa.or_(
        sa.and_(JOBS.c.status == JobStatus.PENDING.value, JOBS.c.next_attempt_at <= now),
        sa.and_(JOBS.c.status == JobStatus.RUNNING.value, JOBS.c.lease_expires_at < now),
    )
    if not include_automatic:
        ready = sa.and_(ready, JOBS.c.automatic.is_(False))
    pick = (
        sa.select(JOBS.c.id)
        .where(ready)
        # A user waiting at the alert page goes before the rules' backlog (False sorts first).
        .order_by(JOBS.c.automatic, JOBS.c.next_attempt_at, JOBS.c.id)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    stmt = (
        sa.update(JOBS)
        .where(JOBS.c.id == pick)
        .values(
            status=JobStatus.RUNNING.value,
            attempts=JOBS.c.attempts + 1,
            lease_expires_at=now + lease,
            locked_by=worker,
            updated_at=now,
        )
        .returning(
            JOBS.c.id,
            JOBS.c.alert_id,
            JOBS.c.provider_id,
            JOBS.c.automatic,
            JOBS.c.attempts,
            JOBS.c.max_attempts,
            JOBS.c.requested_by,
            JOBS.c.requested_by_user_id,
            JOBS.c.created_at,
            JOBS.c.incident_id,
        )
    )
    row = (await session.exec(stmt)).first()
    if row is None:
        return None
    return ClaimedJob(*row)


def _mine(job_id: int, worker: str) -> Any:
    return sa.and_(JOBS.c.id == job_id, JOBS.c.locked_by == worker, JOBS.c.status == JobStatus.RUNNING.value)


async def renew_lease(session: AsyncSession, job_id: int, worker: str) -> bool:
    """Extend the lease; False when the job is no longer ours (the caller should give up)."""
    now = utcnow()
    result = await session.exec(
        sa.update(JOBS)
        .where(_mine(job_id, worker))
        .values(lease_expires_at=now + timedelta(seconds=get_settings().analysis_lease_seconds), updated_at=now)
    )
    return bool(result.rowcount)


async def _finish(session: AsyncSession, job_id: int, worker: str, **values: Any) -> bool:
    now = utcnow()
    values.setdefault("updated_at", now)
    result = await session.exec(sa.update(JOBS).where(_mine(job_id, worker)).values(lease_expires_at=None, **values))
    return bool(result.rowcount)


async def succeed(
    session: AsyncSession,
    job: ClaimedJob,
    worker: str,
    analysis: Analysis,
    evidence: Callable[[int], list[Evidence]] | None = None,
) -> bool:
    """Mark the job done and store its analysis (and its evidence rows, made by `evidence` from the
    analysis' id) and queue its notifications (the routes that want "analysis ready"), in the caller's
    transaction; False (nothing stored) when the lease was lost. The caller commits."""
    now = utcnow()
    if not await _finish(session, job.id, worker, status=JobStatus.SUCCEEDED.value, finished_at=now, last_error=""):
        return False
    analysis.created_at = now
    session.add(analysis)
    await session.flush()
    if evidence is not None:
        assert analysis.id is not None
        session.add_all(evidence(analysis.id))
        await session.flush()
    await notify_events.analysis_ready(session, analysis)
    return True


def backoff_seconds(attempt: int) -> float:
    """Exponential backoff with jitter: uniform(c/2, c) where c = min(max, base * 2^(attempt-1))."""
    settings = get_settings()
    ceiling = min(settings.analysis_retry_max_seconds, settings.analysis_retry_base_seconds * 2 ** (attempt - 1))
    return random.uniform(ceiling / 2, ceiling)  # noqa: S311 (jitter, not a secret)


async def retry_later(session: AsyncSession, job: ClaimedJob, worker: str, error: str) -> bool:
    delay = backoff_seconds(job.attempts)
    return await _finish(
        session,
        job.id,
        worker,
        status=JobStatus.PENDING.value,
        next_attempt_at=utcnow() + timedelta(seconds=delay),
        last_error=error,
        locked_by="",
    )


async def fail(session: AsyncSession, job: ClaimedJob, worker: str, error: str) -> bool:
    return await _finish(session, job.id, worker, status=JobStatus.FAILED.value, finished_at=utcnow(), last_error=error)


async def cancel(session: AsyncSession, job: ClaimedJob, worker: str, reason: str) -> bool:
    return await _finish(
        session, job.id, worker, status=JobStatus.CANCELLED.value, finished_at=utcnow(), last_error=reason
    )


async def release(session: AsyncSession, job: ClaimedJob, worker: str) -> bool:
    """Give a claimed job back untouched (shutdown, or nothing to run it with): the attempt does not
    count, and it waits a poll interval (no claim-release loop while no provider resolves)."""
    return await _finish(
        session,
        job.id,
        worker,
        status=JobStatus.PENDING.value,
        attempts=JOBS.c.attempts - 1,
        next_attempt_at=utcnow() + timedelta(seconds=get_settings().analysis_poll_seconds),
        locked_by="",
    )


async def cancel_stale(session: AsyncSession) -> list[int]:
    """Cancel automatic jobs waiting longer than ANALYSIS_MAX_WAIT_MINUTES; returns their alert ids."""
    now = utcnow()
    cutoff = now - timedelta(minutes=get_settings().analysis_max_wait_minutes)
    minutes = get_settings().analysis_max_wait_minutes
    rows = await session.exec(
        sa.update(JOBS)
        .where(JOBS.c.status == JobStatus.PENDING.value, JOBS.c.automatic.is_(True), JOBS.c.created_at < cutoff)
        .values(
            status=JobStatus.CANCELLED.value,
            finished_at=now,
            updated_at=now,
            last_error=f"cancelled: still waiting after {minutes:g} minutes (no provider, or the daily budget "
            "was reached); use Analyze to run it",
        )
        .returning(JOBS.c.alert_id)
    )
    return [r[0] for r in rows.all()]
