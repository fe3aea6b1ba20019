"""Running the real analysis worker in a test and waiting for its jobs (on bus events, not sleeps)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import sqlalchemy as sa

from remediation_app.db import async_session
from remediation_app.models import AnalysisJob
from remediation_app.services.events import bus
from remediation_app.services.llm.worker import AnalysisWorker

WAIT_S = 20.0


@contextlib.asynccontextmanager
async def running(*workers: AnalysisWorker) -> AsyncIterator[None]:
    tasks = [asyncio.create_task(w.run()) for w in workers]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def job_rows() -> list[AnalysisJob]:
    async with async_session() as session:
        return list((await session.exec(sa.select(AnalysisJob).order_by(AnalysisJob.id))).scalars())  # type: ignore[call-overload]


async def wait_jobs(predicate: Callable[[list[AnalysisJob]], bool], timeout: float = WAIT_S) -> list[AnalysisJob]:
    """Re-check the jobs table whenever the worker announces a change (bus events), until it holds."""
    with bus.subscribe() as events:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            rows = await job_rows()
            if predicate(rows):
                return rows
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise AssertionError(f"jobs never reached the expected state: {[(j.id, j.status) for j in rows]}")
            with contextlib.suppress(TimeoutError):
                # Retries come due without an event: look again at least every 0.2 s.
                await asyncio.wait_for(events.get(), timeout=min(remaining, 0.2))


def all_done(rows: list[AnalysisJob]) -> bool:
    return bool(rows) and all(j.status not in ("pending", "running") for j in rows)
