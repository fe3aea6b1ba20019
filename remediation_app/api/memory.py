"""Give memory back to the system after large requests (issue 11, item 8).

What held it (bench/memory.py; glibc's malloc_stats() and sys._debugmallocstats() read in the worker
with gdb): after near-10 MB webhooks, an alert with 100,000 labels and one with a 9 MB label, the
worker stayed about 170 MB above its idle size, with every Python object of those requests gone:

- about 110 MB was memory glibc's malloc had freed but kept: holes in the main heap and in the
  arenas of the other threads that allocated (aiosqlite's connection threads, asyncio.to_thread
  workers), and the free tops of those heaps; malloc_trim() hands back the holes, the fixed
  thresholds set in remediation_app/serve.py the tops;
- about 40 MB was still in use by the pooled database connections: Python's sqlite3 module keeps
  up to 128 prepared statements per connection, and each keeps a copy of the values last bound to
  it (the 9 MB label, a 500-row batch of annotations) until it runs again or the connection closes;
  on PostgreSQL, closing the idle connections gave back another 24 MB (the driver's buffers grow to
  the largest statement sent);
- about 15 MB of Python's small-object arenas stay pinned by a few long-lived objects (not handled).

So, once a request with a body of LARGE_BODY_BYTES or more has finished and no other one has for
QUIET_S seconds (MAX_DELAY_S at most after the first), each worker closes its idle pooled database
connections (the next request opens a new one; connections in use are closed when they are
returned), then calls malloc_trim(0) in a thread (it walks every arena under its lock: never on
the event loop).

The other half of the fix is in remediation_app/serve.py: fixed malloc thresholds and two arenas,
without which freed blocks of a few MB stay in the heaps where malloc_trim cannot reach them.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import functools
import logging
import time
from collections.abc import Callable
from typing import Any

from starlette.types import Message, Receive, Scope, Send

from remediation_app.api.middleware import HttpMiddleware
from remediation_app.db import async_engine

log = logging.getLogger(__name__)

LARGE_BODY_BYTES = 1024 * 1024
QUIET_S = 2.0
MAX_DELAY_S = 30.0


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's malloc_trim, or None elsewhere (musl, macOS)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim: Any = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim  # type: ignore[no-any-return]


async def release_memory() -> None:
    """Close the idle pooled database connections, then return freed heap memory to the system."""
    await async_engine().dispose()
    trim = _malloc_trim()
    if trim is not None:
        await asyncio.to_thread(trim, 0)


class _Releaser:
    """Runs release_memory once large requests have stopped for a while (one per event loop)."""

    def __init__(self) -> None:
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._due = 0.0
        self._deadline = 0.0

    def large_request_done(self) -> None:
        loop, now = asyncio.get_running_loop(), time.monotonic()
        if self._task is None or self._task.done() or self._loop is not loop:
            self._loop, self._deadline = loop, now + MAX_DELAY_S
            self._task = loop.create_task(self._run(), name="memory-release")
        self._due = min(now + QUIET_S, self._deadline)

    async def _run(self) -> None:
        while (wait := self._due - time.monotonic()) > 0:  # noqa: ASYNC110 (a debounce: the due time moves)
            await asyncio.sleep(wait)
        try:
            await release_memory()
        except Exception:  # never fatal: the memory just stays with the process
            log.warning("could not release memory after large requests", exc_info=True)


releaser = _Releaser()


class ReleaseMemoryAfterLargeRequests(HttpMiddleware):
    """Counts each HTTP request's body; a large one schedules the release."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
            return message

        try:
            await self.app(scope, counting_receive, send)
        finally:
            if received >= LARGE_BODY_BYTES:
                releaser.large_request_done()
