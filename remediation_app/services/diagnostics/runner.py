"""The diagnostics runner: an app lifespan task (one per process) that runs approved proposals, expires
those nobody decided, and queues the model's follow-up once a person acted.

Durable and at most once: an approved proposal is a row until a runner takes it with a conditional
UPDATE (approved -> running, with this runner's name and a lease); two runners (processes,
replicas) never both take it, a restart before that loses nothing (it is still approved), and a run
cut off by a restart (running, lease passed) is marked failed, never started again: it may have run
in part and a command runs once. It wakes on the bus (an approval) and otherwise looks every POLL_S.

The follow-up: when every proposal of one analysis (or chat conversation) is decided and, for the
approved ones, has run, and a person acted on at least one, an analysis of the alert is queued as
requested by the person who decided last (its prompt carries the outputs and rejections as evidence:
results.py), or the outcome is added to the conversation. A follow-up that cannot be queued yet (an
analysis of the alert is running) is tried again on the next pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.db import TRANSIENT_DB_ERRORS, async_session
from remediation_app.models import (
    OPEN_PROPOSALS,
    AnalysisJob,
    ChatMessage,
    Conversation,
    DiagnosticProposal,
    JobStatus,
    ProposalStatus,
    SSHServer,
    User,
    utcnow,
)
from remediation_app.services import audit
from remediation_app.services.diagnostics import policy_store
from remediation_app.services.diagnostics.check import check_command
from remediation_app.services.diagnostics.execute import RunResult, run_command
from remediation_app.services.diagnostics.proposals import PROPOSALS, TOPIC, expire_due
from remediation_app.services.diagnostics.results import result_text
from remediation_app.services.events import bus
from remediation_app.services.llm import jobs
from remediation_app.services.llm.worker import worker_name
from remediation_app.services.terminal.connection import CONNECT_TIMEOUT_S
from remediation_app.settings import get_settings

log = logging.getLogger(__name__)
POLL_S = 5.0
CONCURRENCY = 4
CLAIM_BATCH = 10
WAKE = "wake"  # a bus event {"topic": TOPIC, "wake": true}: an approval, a run finished


def lease_seconds() -> float:
    """A run's lease: connecting, the time limit, and room to store the result."""
    return CONNECT_TIMEOUT_S + get_settings().diagnostic_timeout_seconds + 30.0


async def wake_runners() -> None:
    await bus.publish(TOPIC, ids=[], count=0, wake=True)


class DiagnosticsRunner:
    def __init__(self, name: str | None = None) -> None:
        self.name = name or worker_name()
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(CONCURRENCY)
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        listener = asyncio.create_task(self._listen(), name="diagnostics-wake")
        try:
            while True:
                try:
                    await self.tick()
                except TRANSIENT_DB_ERRORS:
                    log.warning("diagnostics runner: database unavailable; retrying")
                except Exception:
                    log.exception("diagnostics runner: a pass failed")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=POLL_S)
                self._wake.clear()
        finally:
            listener.cancel()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(listener, *self._tasks, return_exceptions=True)

    async def _listen(self) -> None:
        with bus.subscribe() as queue:
            while True:
                event = await queue.get()
                if event.get("topic") == TOPIC and event.get("wake"):
                    self._wake.set()

    async def tick(self) -> None:
        """One pass: expire, fail interrupted runs, start approved ones, queue follow-ups."""
        async with async_session() as session:
            changed = await expire_due(session)
            changed += await self._interrupted(session)
            await session.commit()
        if changed:
            await bus.publish(TOPIC, ids=sorted(set(changed))[:100], count=len(changed))
        while True:
            # A slot first, then the claim: a claimed run starts at once (its lease is counting).
            await self._slots.acquire()
            try:
                claimed = await self._claim()
            except BaseException:
                self._slots.release()
                raise
            if claimed is None:
                self._slots.release()
                break
            task = asyncio.create_task(self._execute(claimed), name=f"diagnostic-{claimed}")
            self._tasks.add(task)
            task.add_done_callback(self._done)
        await self.follow_up()

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._slots.release()

    async def idle(self) -> None:
        """Wait until this runner's runs are over (tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _interrupted(self, session: AsyncSession) -> list[int]:
        now = utcnow()
        rows = await session.exec(
            sa.update(PROPOSALS)
            .where(PROPOSALS.c.status == ProposalStatus.RUNNING.value, PROPOSALS.c.lease_expires_at < now)
            .values(
                status=ProposalStatus.FAILED.value,
                finished_at=now,
                lease_expires_at=None,
                continuation="wanted",
                error="interrupted: the engine stopped while it ran; it is not run again (it may have run in part)",
            )
            .returning(PROPOSALS.c.alert_id)
        )
        return [r[0] for r in rows.all()]

    async def _claim(self) -> int | None:
        """Take one approved proposal for this runner (a conditional UPDATE: one runner wins)."""
        now = utcnow()
        async with async_session() as session:
            ids = await session.exec(
                select(DiagnosticProposal.id)
                .where(col(DiagnosticProposal.status) == ProposalStatus.APPROVED.value)
                .order_by(col(DiagnosticProposal.decided_at), col(DiagnosticProposal.id))
                .limit(CLAIM_BATCH)
            )
            for proposal_id in ids.all():
                taken = await session.exec(
                    sa.update(PROPOSALS)
                    .where(PROPOSALS.c.id == proposal_id, PROPOSALS.c.status == ProposalStatus.APPROVED.value)
                    .values(
                        status=ProposalStatus.RUNNING.value,
                        runner=self.name,
                        started_at=now,
                        lease_expires_at=now + timedelta(seconds=lease_seconds()),
                    )
                    .returning(PROPOSALS.c.alert_id)
                )
                alert_id = taken.first()
                if alert_id is not None:
                    await session.commit()
                    await bus.publish(TOPIC, ids=[alert_id[0]], count=1)
                    return proposal_id
        return None

    async def _execute(self, proposal_id: int) -> None:
        try:
            await self._run_one(proposal_id)
        except asyncio.CancelledError:
            raise
        except Exception:  # the lease runs out and the next pass marks it failed (never run twice)
            log.exception("diagnostic proposal %s: the run failed unexpectedly", proposal_id)

    async def _run_one(self, proposal_id: int) -> None:
        settings = get_settings()
        async with async_session() as session:
            row = await session.get(DiagnosticProposal, proposal_id)
            server = await session.get(SSHServer, row.server_id) if row and row.server_id is not None else None
            in_force = await policy_store.current(session)
        if row is None:
            return
        result: RunResult
        if server is None:
            result = RunResult(error=f"the server {row.server_name!r} no longer exists", code="unknown_server")
        else:
            # Defense in depth: what runs must still be what the policy in force allows on that server.
            environment = server.environment
            verdict = check_command(in_force.policy, row.command, server_name=server.name, environment=environment)
            if not verdict.allowed or verdict.command != row.command:
                result = RunResult(error=f"the policy in force refuses it now: {verdict.reason}", code="policy")
            else:
                log.info("running diagnostic proposal %s on %s", proposal_id, server.name)
                limit_s, max_bytes = settings.diagnostic_timeout_seconds, settings.diagnostic_output_max_bytes
                result = await run_command(server, row.command, limit_s=limit_s, max_bytes=max_bytes)
        await self._store(row, result)

    async def _store(self, row: DiagnosticProposal, result: RunResult) -> None:
        status = ProposalStatus.DONE if result.ran else ProposalStatus.FAILED
        async with async_session() as session:
            stored = await session.exec(
                sa.update(PROPOSALS)
                .where(
                    PROPOSALS.c.id == row.id,
                    PROPOSALS.c.runner == self.name,
                    PROPOSALS.c.status == ProposalStatus.RUNNING.value,
                )
                .values(
                    status=status.value,
                    finished_at=utcnow(),
                    lease_expires_at=None,
                    exit_status=result.exit_status,
                    timed_out=result.timed_out,
                    truncated=result.truncated,
                    stdout=result.stdout,
                    stderr=result.stderr,
                    output_bytes=result.output_bytes,
                    output_sha256=result.output_sha256,
                    error=result.error,
                    continuation="wanted",
                )
            )
            if not stored.rowcount:
                log.warning("diagnostic proposal %s: no longer ours (lease passed); the result is dropped", row.id)
                return
            audit.record(
                session,
                action="diagnostics.run",
                actor="engine",
                target=row.server_name,
                success=status == ProposalStatus.DONE,
                details={
                    "proposal": row.id,
                    "alert": row.alert_id,
                    "command": row.command[:500],
                    "approved_by": row.decided_by,
                    "exit_status": result.exit_status,
                    "output_bytes": result.output_bytes,
                    "output_sha256": result.output_sha256,
                    "timed_out": result.timed_out,
                    "truncated": result.truncated,
                    "duration_ms": result.duration_ms,
                    "error": result.code or None,
                },
            )
            await session.commit()
        await bus.publish(TOPIC, ids=[row.alert_id], count=1)
        self._wake.set()  # its follow-up may be due

    # -- the model's follow-up ----------------------------------------------------------------------

    async def follow_up(self) -> None:
        async with async_session() as session:
            wanted = await session.exec(
                select(DiagnosticProposal).where(col(DiagnosticProposal.continuation) == "wanted").limit(200)
            )
            groups: dict[tuple[str, int, int], list[DiagnosticProposal]] = {}
            for row in wanted.all():
                key = (row.origin, row.alert_id, (row.job_id if row.origin == "analysis" else row.conversation_id) or 0)
                groups.setdefault(key, []).append(row)
            queued: list[int] = []
            for (origin, alert_id, source), rows in groups.items():
                if await _still_open(session, origin, alert_id, source):
                    continue
                if origin == "analysis":
                    outcome = await self._analysis(session, alert_id, source, rows)
                else:
                    outcome = await _chat(session, source, rows)
                if outcome is None:
                    continue  # not now (an analysis of the alert is running): the next pass tries again
                await session.exec(
                    sa.update(PROPOSALS).where(PROPOSALS.c.id.in_([r.id for r in rows])).values(continuation=outcome)
                )
                if outcome == "queued" and origin == "analysis":
                    queued.append(alert_id)
            await session.commit()
        if queued:
            await bus.publish(jobs.JOBS_TOPIC, queued=len(queued))
            await bus.publish(jobs.ANALYSIS_TOPIC, ids=queued[:100], count=len(queued))

    async def _analysis(
        self, session: AsyncSession, alert_id: int, job_id: int, rows: list[DiagnosticProposal]
    ) -> str | None:
        running = await jobs.in_flight_job(session, alert_id)
        if running is not None and running.status == JobStatus.RUNNING.value:
            return None
        decided = [r for r in rows if r.decided_by_user_id is not None]
        last = max(decided, key=lambda r: (r.decided_at or r.created_at, r.id or 0), default=None)
        user_id = last.decided_by_user_id if last is not None else None
        user = await session.get(User, user_id) if user_id is not None else None
        if user is None or not user.is_active:
            return "skipped"
        job = await session.get(AnalysisJob, job_id) if job_id else None
        try:
            async with session.begin_nested():
                await jobs.request_analysis(session, alert_id, user=user, provider_id=job.provider_id if job else None)
        except jobs.AnalysisRefused as exc:
            log.info("diagnostics follow-up of alert %s not queued: %s", alert_id, exc)
            return None if "running" in str(exc) or "just queued" in str(exc) else "skipped"
        return "queued"


async def _still_open(session: AsyncSession, origin: str, alert_id: int, source: int) -> bool:
    """Some proposal of the same analysis (or conversation) still waits for a person or a runner."""
    column = col(DiagnosticProposal.job_id) if origin == "analysis" else col(DiagnosticProposal.conversation_id)
    query = select(DiagnosticProposal.id).where(
        col(DiagnosticProposal.alert_id) == alert_id,
        col(DiagnosticProposal.origin) == origin,
        column == source if source else column.is_(None),
        col(DiagnosticProposal.status).in_(OPEN_PROPOSALS),
    )
    return (await session.exec(query.limit(1))).first() is not None


async def _chat(session: AsyncSession, conversation_id: int, rows: list[DiagnosticProposal]) -> str:
    """The outcome, as a message of the conversation (the model reads it with the next question)."""
    conversation = await session.get(Conversation, conversation_id) if conversation_id else None
    if conversation is None:
        return "skipped"
    now = utcnow()
    text = "\n\n".join(result_text(row) for row in sorted(rows, key=lambda r: r.id or 0))
    message = ChatMessage(conversation_id=conversation_id, role="diagnostic", content=text, created_at=now)
    message.finished_at = now
    session.add(message)
    conversation.updated_at = now
    session.add(conversation)
    return "queued"


async def run_diagnostics(**kwargs: Any) -> None:
    """The lifespan task."""
    await DiagnosticsRunner(**kwargs).run()
