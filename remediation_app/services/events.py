"""Change events for live pages: publish after commit, subscribe from a page's watcher.

In-process by default (one worker). With REDIS_URL set, events go through Redis pub/sub so that
every worker and replica hears every change; each process runs one Redis subscription and fans
events out to its local subscribers.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections.abc import Iterator
from typing import Any

from remediation_app.settings import get_settings

log = logging.getLogger(__name__)
CHANNEL_PREFIX = "remediation:events:"


def channel() -> str:
    """One channel per database: deployments (or test runs) sharing a Redis do not hear each other."""
    digest = hashlib.sha256(get_settings().database_url.encode()).hexdigest()[:16]
    return CHANNEL_PREFIX + digest


QUEUE_SIZE = 256


class EventBus:
    def __init__(self) -> None:
        self._subscribers: set[asyncio.Queue[dict[str, Any]]] = set()
        self._redis: Any = None
        self._listening = asyncio.Event()

    @contextlib.contextmanager
    def subscribe(self) -> Iterator[asyncio.Queue[dict[str, Any]]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=QUEUE_SIZE)
        self._subscribers.add(queue)
        try:
            yield queue
        finally:
            self._subscribers.discard(queue)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def _deliver(self, event: dict[str, Any]) -> None:
        for queue in list(self._subscribers):
            # A slow page only needs to know "something changed": drop, it reloads anyway.
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(event)

    async def publish(self, topic: str, **data: Any) -> None:
        """Never raises: a lost event costs a page refresh, a raised one would cost a 5xx after commit."""
        event = {"topic": topic, **data}
        if self._redis is not None and self._listening.is_set():
            try:
                await self._redis.publish(channel(), json.dumps(event))
                return
            except Exception:
                log.warning("event bus: Redis publish failed; delivering in this process only", exc_info=True)
        self._deliver(event)

    async def run(self) -> None:
        """Relay Redis pub/sub to local subscribers until cancelled (no-op without REDIS_URL)."""
        url = get_settings().redis_url
        if not url:
            return
        import redis.asyncio as aioredis

        self._redis = aioredis.from_url(url)
        backoff = 0.5
        try:
            while True:
                try:
                    pubsub = self._redis.pubsub()
                    await pubsub.subscribe(channel())
                    self._listening.set()
                    backoff = 0.5
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            self._deliver(json.loads(message["data"]))
                except asyncio.CancelledError:
                    raise
                except Exception:
                    self._listening.clear()
                    log.warning("event bus: Redis subscription lost; retrying in %.1fs", backoff, exc_info=True)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 10)
        finally:
            self._listening.clear()
            await self._redis.aclose()
            self._redis = None


bus = EventBus()
