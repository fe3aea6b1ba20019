"""The analysis worker: an app lifespan task that claims jobs and runs at most N analyses at once.

Every app process runs one (unless ANALYSIS_WORKERS_ENABLED=false); on PostgreSQL several workers
and replicas share the queue (SKIP LOCKED). A worker wakes when a job is queued (an event on the
bus) and otherwise polls every ANALYSIS_POLL_SECONDS, for retries that came due and expired leases.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.crypto import DecryptionError
from remediation_app.db import TRANSIENT_DB_ERRORS, async_session
from remediation_app.models import Alert, AlertStatus, Analysis, Evidence, utcnow
from remediation_app.services import metrics
from remediation_app.services.events import bus
from remediation_app.services.investigation.run import investigate
from remediation_app.services.llm import claims, costs, jobs, providers
from remediation_app.services.llm.analysis import RAW_MAX
from remediation_app.services.llm.config import ProviderConfig
from remediation_app.services.llm.errors import ERROR_MAX, LLMError
from remediation_app.services.llm.incident_prompt import incident_data
from remediation_app.services.records import columns
from remediation_app.settings import get_settings

log = logging.getLogger(__name__)
STALE_SWEEP_S = 60.0
PROVIDER_CHECK_S = 2.0


def worker_name() -> str:
    return f"{socket.gethostname()[:100]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class AnalysisWorker:
    def __init__(self, concurrency: int | None = None, name: str | None = None) -> None:
        settings = get_settings()
        self.concurrency = concurrency or settings.analysis_concurrency
        self.name = name or worker_name()
        self._slots = asyncio.Semaphore(self.concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._last_sweep = 0.0
        self._provider_checked: tuple[float, bool] = (0.0, False)
        self.running = 0  # analyses in flight in this worker (for tests and metrics)
        # Jobs whose final write has begun: their heartbeat must not mistake the end for a lost lease.
        self._finishing: set[int] = set()

    # -- the loop ---------------------------------------------------------------------------------

    async def run(self) -> None:
        """Claim and run jobs until cancelled; then give running jobs back to the queue."""
        listener = asyncio.create_task(self._listen(), name="analysis-wake")
        try:
            while True:
                await self._slots.acquire()
                job = await self._next_job()
                if job is None:
                    self._slots.release()
                    await self._idle()
                    continue
                task = asyncio.create_task(self._run(job), name=f"analysis-job-{job.id}")
                self._tasks.add(task)
                task.add_done_callback(self._done)
        finally:
            listener.cancel()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(listener, *self._tasks, return_exceptions=True)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._slots.release()

    async def _listen(self) -> None:
        with bus.subscribe() as queue:
            while True:
                event = await queue.get()
                if event.get("topic") == jobs.JOBS_TOPIC:
                    self._wake.set()

    async def _idle(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=get_settings().analysis_poll_seconds)
        self._wake.clear()

    async def _has_provider(self) -> bool:
        checked_at, found = self._provider_checked
        if time.monotonic() - checked_at < PROVIDER_CHECK_S:
            return found
        async with async_session() as session:
            found = await providers.any_provider(session)
        self._provider_checked = (time.monotonic(), found)
        return found

    async def _next_job(self) -> claims.ClaimedJob | None:
        try:
            await self._sweep()
            if not await self._has_provider():
                return None  # jobs wait; the alert page says no provider is configured
            async with async_session() as session:
                reached = await costs.budget_reached(session)
                if get_settings().llm_daily_budget_usd is not None:
                    metrics.set_budget_reached(reached)
                include_automatic = not reached
                job = await claims.claim(session, self.name, include_automatic=include_automatic)
                await session.commit()
        except TRANSIENT_DB_ERRORS:
            log.warning("analysis worker: database unavailable; retrying")
            return None
        except Exception:
            log.exception("analysis worker: claiming a job failed")
            return None
        if job is not None:
            await self._announce(job)
        return job

    async def _sweep(self) -> None:
        if time.monotonic() - self._last_sweep < STALE_SWEEP_S:
            return
        self._last_sweep = time.monotonic()
        async with async_session() as session:
            alert_ids = await claims.cancel_stale(session)
            await session.commit()
        if alert_ids:
            log.info("cancelled stale automatic analyses", extra={"jobs": len(alert_ids)})
            for _ in alert_ids:
                metrics.record_job_outcome("cancelled")
            await bus.publish(jobs.ANALYSIS_TOPIC, ids=alert_ids[:100], count=len(alert_ids))

    async def _announce(self, job: claims.ClaimedJob) -> None:
        # A group job's analysis shows on every alert of its incident: a count above the ids listed
        # tells live pages that alerts not named changed too.
        count = 1 if job.incident_id is None else 2
        await bus.publish(jobs.ANALYSIS_TOPIC, ids=[job.alert_id], count=count, incident_id=job.incident_id)

    # -- one job ----------------------------------------------------------------------------------

    async def _run(self, job: claims.ClaimedJob) -> None:
        self.running += 1
        heartbeat = asyncio.create_task(self._heartbeat(job, asyncio.current_task()))
        try:
            outcome = await self._analyse(job)
        except asyncio.CancelledError:
            heartbeat.cancel()
            await self._give_back(job)
            raise
        except Exception as exc:  # a bug or a database fault: retry like a transient error
            log.exception("analysis job %s failed unexpectedly", job.id)
            try:
                # Its details (SQL, parameters) are in the log; the job's error is shown to every user.
                outcome = await self._settle(job, f"internal error ({type(exc).__name__}); see the log", transient=True)
            except Exception:
                # The lease runs out and another worker (or this one) takes the job up again.
                log.exception("analysis job %s: could not record the failure", job.id)
                outcome = "abandoned"
        finally:
            heartbeat.cancel()
            self._finishing.discard(job.id)
            self.running -= 1
        log.info("analysis job finished", extra={"job_id": job.id, "alert_id": job.alert_id, "outcome": outcome})
        metrics.record_job_outcome(outcome)
        await self._announce(job)

    async def _heartbeat(self, job: claims.ClaimedJob, runner: asyncio.Task[Any] | None) -> None:
        """Renew the lease at a third of its length; if the job is no longer ours, stop working on it."""
        interval = get_settings().analysis_lease_seconds / 3
        while True:
            await asyncio.sleep(interval)
            try:
                async with async_session() as session:
                    mine = await claims.renew_lease(session, job.id, self.name)
                    await session.commit()
            except Exception:  # keep beating: a lease that lapses lets another worker run the job too
                log.warning("analysis job %s: renewing the lease failed; retrying", job.id, exc_info=True)
                continue
            if job.id in self._finishing:
                return  # the job was just finished by us: the lease is gone because the job is done
            if not mine and runner is not None:
                log.warning("analysis job %s: lease lost; another worker has it", job.id)
                runner.cancel()
                return

    async def _give_back(self, job: claims.ClaimedJob) -> None:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(5):
                async with async_session() as session:
                    await claims.release(session, job, self.name)
                    await session.commit()

    async def _load(
        self, job: claims.ClaimedJob
    ) -> tuple[Alert | None, ProviderConfig | str | None, dict[str, Any] | None]:
        """The job's alert, its provider (or why there is none), and for a group job its incident's data."""
        async with async_session() as session:
            alert = await session.get(Alert, job.alert_id)
            try:
                provider: ProviderConfig | str | None = await providers.resolve(session, job.provider_id)
            except (providers.ProviderUnavailable, DecryptionError) as exc:
                provider = str(exc)
            incident = await incident_data(session, job.incident_id) if job.incident_id is not None else None
        return alert, provider, incident

    async def _analyse(self, job: claims.ClaimedJob) -> str:
        alert, provider, incident = await self._load(job)
        if alert is None:
            return await self._cancel(job, "the alert was deleted")
        # A group job runs while any alert of its incident fires, even when its representative resolved.
        fires = incident["firing_count"] > 0 if incident is not None else alert.status != AlertStatus.RESOLVED.value
        if job.automatic and not fires:
            return await self._cancel(job, "the alert resolved before it was analysed; use Analyze to run it")
        if job.automatic and alert.am_state == "suppressed" and not get_settings().analyze_suppressed:
            reason = "Alertmanager reports the alert silenced or inhibited (ANALYZE_SUPPRESSED is off); use Analyze"
            return await self._cancel(job, f"{reason} to run it")
        max_wait = timedelta(minutes=get_settings().analysis_max_wait_minutes)
        if job.automatic and utcnow() - job.created_at > max_wait:
            return await self._cancel(job, "waited too long in the queue; use Analyze to run it")
        if isinstance(provider, str):
            return await self._settle(job, provider, transient=False)
        if provider is None:
            await self._finish(job, lambda session: claims.release(session, job, self.name))
            return "released"
        try:
            outcome = await investigate(alert, provider, incident=incident, job_id=job.id)
        except LLMError as exc:
            return await self._settle(job, str(exc), transient=exc.transient)
        parsed = outcome.parsed
        analysis = Analysis(
            alert_id=job.alert_id,
            job_id=job.id,
            incident_id=job.incident_id,
            provider_name=provider.name,
            model=provider.model,
            **columns(parsed, "structured", "result", "urgency"),
            raw_text=outcome.text[:RAW_MAX],
            **columns(outcome, "prompt_tokens", "completion_tokens", "cost_usd", "latency_ms"),
            **columns(job, "requested_by", "requested_by_user_id"),
            investigation=outcome.details,
        )

        def evidence(analysis_id: int) -> list[Evidence]:
            return [item.row(analysis_id) for item in outcome.investigation.items]

        if not await self._finish(job, lambda session: claims.succeed(session, job, self.name, analysis, evidence)):
            log.warning("analysis job %s: lease lost before storing; the result is dropped", job.id)
            return "lease-lost"
        costs.clear_cache()
        return "succeeded"

    async def _finish(self, job: claims.ClaimedJob, write: Callable[[AsyncSession], Awaitable[bool]]) -> bool:
        """The job's last write (stored, retried, failed, cancelled or released), committed; returns
        whether the lease was still ours. Its heartbeat must not take the lease this ends for a lost one."""
        self._finishing.add(job.id)
        async with async_session() as session:
            done = await write(session)
            await session.commit()
        return done

    async def _cancel(self, job: claims.ClaimedJob, reason: str) -> str:
        await self._finish(job, lambda session: claims.cancel(session, job, self.name, reason))
        return "cancelled"

    async def _settle(self, job: claims.ClaimedJob, error: str, *, transient: bool) -> str:
        """Retry later (transient, attempts left) or fail for good; the error is kept on the job."""
        retry = transient and job.attempts < job.max_attempts
        write = claims.retry_later if retry else claims.fail
        await self._finish(job, lambda session: write(session, job, self.name, error[:ERROR_MAX]))
        return "retried" if retry else "failed"


async def run_workers() -> None:
    """The lifespan task: one worker with ANALYSIS_CONCURRENCY slots (or none when disabled)."""
    if not get_settings().analysis_workers_enabled:
        return
    await AnalysisWorker().run()
