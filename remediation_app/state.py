"""Shared state helpers; never imports pages.

Live pages follow the event bus with one background task per tab: `follow_events` calls the
page's refresh now and after every change event, until the tab closes or reloads the page.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import reflex as rx

from remediation_app.services.events import bus

log = logging.getLogger(__name__)
# Per tab: opening or reloading a page starts a new generation and the older loop ends.
_generations: dict[str, int] = {}
LIVENESS_CHECK_S = 5.0
MIN_REFRESH_INTERVAL_S = 0.2


def _tab_connected(token: str) -> bool:
    from reflex.utils.prerequisites import get_app

    namespace = get_app().app.event_namespace
    return namespace is None or token in namespace.token_to_sid


async def _refresh_or_log(refresh: Callable[[], Awaitable[None]]) -> None:
    """A refresh that fails unexpectedly is logged; the tab keeps following (the next change retries)."""
    try:
        await refresh()
    except Exception:
        log.exception("live page refresh failed; the page keeps following changes")


async def follow_events(
    state: rx.State,
    refresh: Callable[[], Awaitable[None]],
    wants: Callable[[dict[str, Any]], bool] = lambda _event: True,
) -> None:
    token = state.router.session.client_token
    generation = _generations[token] = _generations.get(token, 0) + 1
    loop = asyncio.get_running_loop()
    with bus.subscribe() as queue:
        try:
            await _refresh_or_log(refresh)
            last_refresh = loop.time()
            while _generations.get(token) == generation:
                try:
                    event = await asyncio.wait_for(queue.get(), timeout=LIVENESS_CHECK_S)
                except TimeoutError:
                    if not _tab_connected(token):
                        break
                    continue
                # The first change after a quiet spell shows at once; a burst is folded into one
                # refresh per MIN_REFRESH_INTERVAL_S.
                wait = last_refresh + MIN_REFRESH_INTERVAL_S - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                relevant = wants(event)
                while not queue.empty():
                    relevant = wants(queue.get_nowait()) or relevant
                if relevant and _generations.get(token) == generation:
                    await _refresh_or_log(refresh)
                    last_refresh = loop.time()
        finally:
            if _generations.get(token) == generation:
                _generations.pop(token, None)
