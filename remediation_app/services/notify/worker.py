"""The notification worker: an app lifespan task that claims deliveries and sends at most
NOTIFY_CONCURRENCY at once.

Every app process runs one (unless NOTIFY_WORKER_ENABLED=false); on PostgreSQL several share the queue
(SKIP LOCKED). It wakes when an event may have queued deliveries (bus events after their commit) and
otherwise when the next retry or summary comes due (at least every POLL_MAX_S, for other processes'
deliveries and expired leases). On shutdown a send in progress is waited for (up to its timeout) and
its outcome recorded, so a restart neither loses it nor sends it twice; a delivery not yet sent is
given back untouched.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.db import TRANSIENT_DB_ERRORS, async_session
from remediation_app.models import utcnow
from remediation_app.services import metrics
from remediation_app.services.events import bus
from remediation_app.services.notify import compose, events, queue
from remediation_app.services.notify.delivery import Interrupted, Outcome, send
from remediation_app.services.notify.messages import Message
from remediation_app.services.notify.routes import Unsendable, resolve
from remediation_app.settings import get_settings

log = logging.getLogger(__name__)
POLL_MAX_S = 5.0


def worker_name() -> str:
    return f"{socket.gethostname()[:100]}:{os.getpid()}:notify:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class Ready:
    """A claimed delivery to send now: where to, and what."""

    delivery: queue.ClaimedDelivery
    url: str
    message: Message


class NotifyWorker:
    def __init__(self, concurrency: int | None = None, name: str | None = None) -> None:
        self.concurrency = concurrency or get_settings().notify_concurrency
        self.name = name or worker_name()
        self._slots = asyncio.Semaphore(self.concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()

    async def run(self) -> None:
        """Claim and send until cancelled; then let sends in progress finish and record them."""
        listener = asyncio.create_task(self._listen(), name="notify-wake")
        try:
            while True:
                await self._slots.acquire()
                ready = await self._next()
                if ready is None:
                    self._slots.release()
                    await self._idle()
                    continue
                task = asyncio.create_task(self._run(ready), name=f"notify-{ready.delivery.id}")
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
        wanted = events.wake_topics()
        with bus.subscribe() as updates:
            while True:
                if (await updates.get()).get("topic") in wanted:
                    self._wake.set()

    async def _idle(self) -> None:
        wait = POLL_MAX_S
        with contextlib.suppress(*TRANSIENT_DB_ERRORS):
            async with async_session() as session:
                due = await queue.next_due(session)
            if due is not None:
                wait = min(POLL_MAX_S, max(0.05, (due - utcnow()).total_seconds()))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=wait)
        self._wake.clear()

    async def _next(self) -> Ready | None:
        """The next delivery to send: claimed, its target resolved, its throttle applied and its message
        composed in one transaction (throttled or cancelled ones are settled on the way)."""
        try:
            while True:
                async with async_session() as session:
                    claimed = await queue.claim(session, self.name)
                    if claimed is None:
                        await session.commit()
                        return None
                    ready = await self._prepare(session, claimed)
                    await session.commit()
                if ready is not None:
                    return ready
                await bus.publish(events.TOPIC, ids=[claimed.alert_id] if claimed.alert_id else [], count=1)
        except TRANSIENT_DB_ERRORS:
            log.warning("notification worker: database unavailable; retrying")
        except Exception:
            log.exception("notification worker: claiming a delivery failed")
        return None

    async def _prepare(self, session: AsyncSession, claimed: queue.ClaimedDelivery) -> Ready | None:
        target = await resolve(session, claimed)
        if isinstance(target, Unsendable):
            if target.cancel:
                await queue.cancel(session, claimed, self.name, target.reason)
            else:
                await queue.settle(session, claimed, self.name, target.reason, transient=False)
            self._record(claimed, "cancelled" if target.cancel else "failed")
            return None
        url, throttle = target
        if not await queue.take_slot(session, claimed, throttle, self.name):
            self._record(claimed, "throttled")
            return None
        message = await compose.compose(session, claimed, (throttle.throttle_max, throttle.throttle_minutes))
        if isinstance(message, str):
            await queue.cancel(session, claimed, self.name, message)
            self._record(claimed, "cancelled")
            return None
        return Ready(claimed, url, message)

    def _record(self, delivery: queue.ClaimedDelivery, outcome: str) -> None:
        metrics.record_notify_delivery(delivery.target_kind, outcome)
        level = logging.WARNING if outcome == "failed" else logging.INFO
        log.log(
            level,
            "notification %s",
            outcome,
            extra={"delivery_id": delivery.id, "route": delivery.route_name, "event": delivery.event},
        )

    async def _run(self, ready: Ready) -> None:
        d = ready.delivery
        try:
            outcome = await send(ready.url, ready.message, idempotency_key=d.idempotency_key)
        except Interrupted as stop:
            await _to_the_end(self._settle(d, stop.outcome))  # shutting down: record what the attempt did
            raise
        except asyncio.CancelledError:
            await _to_the_end(self._give_back(d))
            raise
        # A shutdown that comes as the attempt ends must not cut its record short either.
        await _to_the_end(self._settle(d, outcome))
        await bus.publish(events.TOPIC, ids=[d.alert_id] if d.alert_id else [], count=1)

    async def _settle(self, d: queue.ClaimedDelivery, outcome: Outcome) -> None:
        try:
            async with asyncio.timeout(10):
                async with async_session() as session:
                    if outcome.ok:
                        result = "sent" if await queue.sent(session, d, self.name) else "lease-lost"
                    else:
                        result = await queue.settle(session, d, self.name, outcome.error, transient=outcome.transient)
                    await session.commit()
        except Exception:  # the lease runs out and the delivery is tried again (same idempotency key)
            log.exception("notification %s: could not record its outcome", d.id)
            return
        self._record(d, result)

    async def _give_back(self, d: queue.ClaimedDelivery) -> None:
        try:
            async with asyncio.timeout(5):
                async with async_session() as session:
                    await queue.release(session, d, self.name)
                    await session.commit()
        except Exception:  # its lease runs out and it is sent then (same idempotency key)
            log.warning("notification %s: could not give it back", d.id, exc_info=True)


async def _to_the_end(write: Coroutine[Any, Any, None]) -> None:
    """Run a delivery's last write to its end even when the task is cancelled meanwhile (shutdown);
    the cancellation is raised once it is done (or after 15 s)."""
    inner = asyncio.ensure_future(write)
    try:
        await asyncio.shield(inner)
    except asyncio.CancelledError:
        await asyncio.wait({inner}, timeout=15)
        raise


async def run_notify_worker() -> None:
    """The lifespan task (nothing when NOTIFY_WORKER_ENABLED=false)."""
    if not get_settings().notify_worker_enabled:
        return
    await NotifyWorker().run()
