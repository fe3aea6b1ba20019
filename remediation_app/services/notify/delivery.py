"""Sending one message through Apprise: in a thread of its own pool (Apprise is synchronous, and an
attempt may wait up to NOTIFY_TIMEOUT_SECONDS: never on the event loop, nor in the default executor
other work shares), with the message written in the markup the target reads, an idempotency key where
the target can carry one, and the outcome's error masked.

What Apprise can and cannot promise (docs/notifications.md): it reports whether the target accepted
the message, not whether a failed attempt reached it. An attempt that timed out or lost its answer
may have been delivered; its retry is then a duplicate unless the target deduplicates. HTTP targets
(json://, xml://, form://) get the delivery's key in an `Idempotency-Key` header on every attempt (a
receiver can drop repeats), an email gets it as an `X-Idempotency-Key` header (to spot them); chat
services (Slack, Teams, Discord...) have no such field in their webhooks.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
import re
from dataclasses import dataclass
from typing import Any

from remediation_app.services.notify.messages import Message
from remediation_app.services.notify.targets import TargetError, instantiate, mask
from remediation_app.settings import get_settings

log = logging.getLogger(__name__)
IDEMPOTENCY_HEADER = "Idempotency-Key"
EMAIL_IDEMPOTENCY_HEADER = "X-Idempotency-Key"
# A status Apprise reports ("error=404") that no retry will change.
_PERMANENT = re.compile(r"error=(4(?!08|25|29)\d\d)\b")


@dataclass(frozen=True)
class Outcome:
    ok: bool
    error: str = ""  # masked
    transient: bool = True


@functools.cache
def _pool() -> concurrent.futures.ThreadPoolExecutor:
    workers = get_settings().notify_concurrency + 2  # + Send test from the admin page and the API
    return concurrent.futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="notify")


def _limit_socket_waits(plugin: Any, timeout: float) -> None:
    for name in ("socket_connect_timeout", "socket_read_timeout"):
        current = getattr(plugin, name, None)
        if isinstance(current, int | float) and current > timeout:
            setattr(plugin, name, timeout)


def _carry_key(plugin: Any, key: str) -> None:
    headers = getattr(plugin, "headers", None)
    if not isinstance(headers, dict) or not key:
        return
    is_email = str(getattr(plugin, "service_name", "")).lower().replace("-", "") == "email"
    headers[EMAIL_IDEMPOTENCY_HEADER if is_email else IDEMPOTENCY_HEADER] = key


def _format_of(plugin: Any) -> str:
    try:
        return str(plugin.resolve_format(None).value)
    except Exception:  # an older plugin without resolve_format: its declared format
        declared = getattr(plugin, "notify_format", "text")
        first = declared[0] if isinstance(declared, list | tuple) and declared else declared
        return str(getattr(first, "value", first))


def _failure_reason(result: Any) -> str:
    lines = [str(entry.message) for entry in result.logs() if str(entry.level) in ("WARNING", "ERROR", "CRITICAL")]
    reason = "; ".join(dict.fromkeys(lines)) or f"Apprise reported {getattr(result.status, 'name', 'a failure')}"
    return reason[:1500]


def send_blocking(url: str, message: Message, *, idempotency_key: str = "", timeout: float | None = None) -> Outcome:
    """One attempt (blocking: run it in the pool, see `send`)."""
    import apprise

    timeout = timeout or get_settings().notify_timeout_seconds
    try:
        plugin = instantiate(url)
    except TargetError as exc:
        return Outcome(False, f"the URL is not usable: {exc}", transient=False)
    _limit_socket_waits(plugin, timeout)
    _carry_key(plugin, idempotency_key)
    fmt = _format_of(plugin)
    has_title = int(getattr(plugin, "title_maxlen", 0) or 0) > 0
    sender = apprise.Apprise()
    sender.add(plugin)
    try:
        result = sender.notify(
            body=message.body(fmt, with_headline=not has_title),
            title=message.title() if has_title else "",
            body_format=fmt,
            notify_type=message.kind,
            timeout=timeout,
        )
    except Exception as exc:  # a plugin's bug: its message may name URL parts
        log.warning("notification: Apprise raised %s", type(exc).__name__)
        return Outcome(False, mask(f"Apprise failed: {type(exc).__name__}: {exc}", url), transient=True)
    if bool(result):
        return Outcome(True)
    reason = mask(_failure_reason(result), url)
    return Outcome(False, reason, transient=_PERMANENT.search(reason) is None)


async def send(url: str, message: Message, *, idempotency_key: str = "", seconds: float | None = None) -> Outcome:
    """One attempt in the notification pool; the loop waits at most the timeout (and a margin: Apprise
    bounds its own call by it). An attempt still running past that is reported as timed out (and may
    still reach the target: see the module's note).

    Cancelled (shutdown) mid-send, it waits for the attempt (bounded) and raises Interrupted with the
    attempt's outcome, for the caller to record instead of sending it again after the restart.
    `asyncio.wait` rather than `wait_for`: it never cancels the attempt's future, and never swallows a
    cancellation that arrives as the attempt ends."""
    timeout = seconds or get_settings().notify_timeout_seconds
    loop = asyncio.get_running_loop()
    attempt = loop.run_in_executor(
        _pool(), functools.partial(send_blocking, url, message, idempotency_key=idempotency_key, timeout=timeout)
    )
    try:
        await asyncio.wait({attempt}, timeout=timeout + 5)
    except asyncio.CancelledError:
        await asyncio.wait({attempt}, timeout=timeout + 5)
        if not attempt.done() or attempt.exception() is not None:
            log.warning("notification: the attempt under way at shutdown did not end in time")
            raise
        raise Interrupted(attempt.result()) from None
    if not attempt.done():
        return Outcome(False, f"no answer within {timeout:g} seconds", transient=True)
    return attempt.result()


class Interrupted(asyncio.CancelledError):
    """A send cancelled (shutdown) after its attempt finished: `outcome` is what the attempt did."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__("notification send interrupted after its attempt finished")
        self.outcome = outcome
