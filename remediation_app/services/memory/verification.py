"""The engine's verdict on a recorded fix, judged against the alert itself (a lifespan task).

With F = the fix's time (outcomes.py), W = FIX_VERIFY_WINDOW_MINUTES, H = FIX_HOLD_MINUTES and R the
time the alert resolved (its endsAt from the resolved notification):

- verified: F <= R <= F + W, and no alert of the same fingerprint (the same label set) started
  within (R, R + H]; where a datasource is configured, the alert's expression (its generatorURL's
  g0.expr) evaluated at R + H returns nothing;
- failed: it fired again within the hold time (the re-firing alert is named), or the expression still
  returned series at R + H;
- unverified: it did not resolve within W of the fix, or it resolved before the fix;
- pending meanwhile.

Verdicts are final (an edited fix is judged again, outcomes.py). The verdict is stored with its
evidence (times, the re-firing alert, the expression check) and queues a "fix_verified" or
"fix_failed" notification in the same transaction. A notification stored (bus topic "alerts") or an
outcome recorded wakes the loop; otherwise it looks every FIX_VERIFY_INTERVAL_SECONDS. A re-fire at
the very end of the hold may reach us after Alertmanager's group wait: the verdict waits a little
past R + H (a tenth of H, at most a minute).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.crypto import DecryptionError
from remediation_app.db import TRANSIENT_DB_ERRORS, async_session
from remediation_app.models import Alert, AlertStatus, FixStatus, IncidentOutcome, utcnow
from remediation_app.services.events import bus
from remediation_app.services.investigation import datasources
from remediation_app.services.investigation.prometheus import DatasourceError, PrometheusClient
from remediation_app.services.investigation.promql import ExpressionError, expression_from_generator_url
from remediation_app.services.memory.outcomes import TOPIC, span_text
from remediation_app.services.notify import events as notify_events
from remediation_app.settings import get_settings

log = logging.getLogger(__name__)
BATCH = 100  # pending outcomes read at a time
PASS_MAX = 2000  # pending outcomes judged per pass (the rest: the next one)
GRACE_MAX = timedelta(minutes=1)
CLOCK_SLACK = timedelta(seconds=60)  # Prometheus' clock against ours: a resolution this early still counts
WAKE_TOPICS = frozenset({"alerts", TOPIC})
SOURCE = "fix-verification"  # our own events, which must not wake the loop again


@dataclass
class Judgement:
    status: str
    detail: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)
    expression: tuple[str, str, datetime] | None = None  # (query, generator URL, when): checked outside the DB


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


async def _refire(session: AsyncSession, alert: Alert, resolved: datetime, hold_end: datetime) -> Alert | None:
    rows = await session.exec(
        select(Alert)
        .where(
            col(Alert.fingerprint) == alert.fingerprint,
            col(Alert.id) != alert.id,
            col(Alert.starts_at) >= resolved,
            col(Alert.starts_at) <= hold_end,
        )
        .order_by(col(Alert.starts_at))
        .limit(1)
    )
    return rows.first()


async def judge(session: AsyncSession, row: IncidentOutcome, alert: Alert, now: datetime) -> Judgement:
    """The fix's verdict from the notifications stored (pending when it cannot be told yet); a verdict
    of verified may still need the expression check (`expression`), done by `verify_due`."""
    settings = get_settings()
    window = timedelta(minutes=settings.fix_verify_window_minutes)
    hold = timedelta(minutes=settings.fix_hold_minutes)
    fix_at = row.fix_at or row.created_at
    evidence: dict[str, Any] = {
        "fix_at": fix_at.isoformat(),
        "fix_from": row.fix_from,
        "window_minutes": settings.fix_verify_window_minutes,
        "hold_minutes": settings.fix_hold_minutes,
        "window_end": (fix_at + window).isoformat(),
    }
    resolved = (alert.ends_at or alert.last_received_at) if alert.status == AlertStatus.RESOLVED.value else None
    if resolved is None:
        if now <= fix_at + window:
            return Judgement(FixStatus.PENDING.value)
        return Judgement(
            FixStatus.UNVERIFIED.value,
            f"The alert did not resolve within {span_text(window)} of the fix ({_when(fix_at)}).",
            evidence,
        )
    evidence["resolved_at"] = resolved.isoformat()
    if resolved < fix_at - CLOCK_SLACK:
        return Judgement(
            FixStatus.UNVERIFIED.value,
            f"The alert resolved at {_when(resolved)}, before the fix ({_when(fix_at)}): the fix did not resolve it.",
            evidence,
        )
    if resolved > fix_at + window:
        return Judgement(
            FixStatus.UNVERIFIED.value,
            f"The alert resolved {span_text(resolved - fix_at)} after the fix, later than the "
            f"{span_text(window)} window.",
            evidence,
        )
    hold_end = resolved + hold
    evidence["hold_end"] = hold_end.isoformat()
    after = f"Resolved {span_text(max(timedelta(0), resolved - fix_at))} after the fix"
    again = await _refire(session, alert, resolved, hold_end)
    if again is not None:
        evidence.update(refired_at=again.starts_at.isoformat(), refire_alert_id=again.id)
        return Judgement(
            FixStatus.FAILED.value,
            f"{after}, but fired again {span_text(again.starts_at - resolved)} later (alert #{again.id}, "
            f"{_when(again.starts_at)}), within the {span_text(hold)} hold time.",
            evidence,
        )
    if now < hold_end + min(GRACE_MAX, hold / 10):
        return Judgement(FixStatus.PENDING.value)
    judgement = Judgement(
        FixStatus.VERIFIED.value,
        f"{after} and did not fire again within the {span_text(hold)} hold time.",
        evidence,
    )
    try:
        query = expression_from_generator_url(alert.generator_url) if alert.generator_url else None
    except ExpressionError:
        query = None
    if query:
        judgement.expression = (query, alert.generator_url, hold_end)
    return judgement


async def _check_expression(judgement: Judgement) -> None:
    """The second check: the expression at the end of the hold (a datasource's fault is noted, and
    the verdict rests on the notifications alone)."""
    assert judgement.expression is not None
    query, generator_url, moment = judgement.expression
    check: dict[str, Any] = {"query": query, "at": moment.isoformat()}
    try:
        async with async_session() as session:
            source = await datasources.for_alert(session, generator_url)
    except DecryptionError as exc:
        source, check["error"] = None, str(exc)
    if source is None:
        if "error" in check:
            judgement.evidence["expression"] = check
        return
    check["datasource"] = source.name
    try:
        async with PrometheusClient(source) as client:
            result = await client.instant(query, moment)
    except DatasourceError as exc:
        check["error"] = str(exc)
        judgement.detail += f" The expression could not be checked: {exc}."
    else:
        series = len(result.series) + result.dropped_series
        check["series"] = series
        if series:
            judgement.status = FixStatus.FAILED.value
            judgement.detail += (
                f" But its expression still returned {series} series at the end of the hold time "
                f"(datasource {source.name}): the condition held."
            )
        else:
            judgement.detail += (
                f" Its expression returned nothing at the end of the hold time (datasource {source.name})."
            )
    judgement.evidence["expression"] = check


async def _store(row: IncidentOutcome, judgement: Judgement, now: datetime) -> bool:
    """Write the verdict unless the outcome changed meanwhile (an edit, another process's verdict)."""
    evidence = {**judgement.evidence, "checked_at": now.isoformat()}
    async with async_session() as session:
        result = await session.exec(
            sa.update(IncidentOutcome)
            .where(
                col(IncidentOutcome.id) == row.id,
                col(IncidentOutcome.fix_status) == FixStatus.PENDING.value,
                col(IncidentOutcome.edits) == row.edits,
            )
            .values(fix_status=judgement.status, fix_detail=judgement.detail, fix_evidence=evidence, fix_checked_at=now)
        )
        if not result.rowcount:
            return False
        if judgement.status in (FixStatus.VERIFIED.value, FixStatus.FAILED.value):
            await notify_events.fix_outcome(
                session,
                row.alert_id,
                verified=judgement.status == FixStatus.VERIFIED.value,
                detail=judgement.detail,
                key=f"{row.id}:{row.edits}",
            )
        await session.commit()
    return True


async def _pending_page(after_id: int, now: datetime) -> list[tuple[IncidentOutcome, Judgement]]:
    async with async_session() as session:
        rows = await session.exec(
            select(IncidentOutcome, Alert)
            .join(Alert, col(Alert.id) == col(IncidentOutcome.alert_id))
            .where(col(IncidentOutcome.fix_status) == FixStatus.PENDING.value, col(IncidentOutcome.id) > after_id)
            .order_by(col(IncidentOutcome.id))
            .limit(BATCH)
        )
        return [(row, await judge(session, row, alert, now)) for row, alert in rows.all()]


async def verify_due(now: datetime | None = None) -> dict[int, str]:
    """One pass over the pending outcomes (BATCH at a time, at most PASS_MAX); returns the verdicts
    given (alert id -> status). Tests call it to judge at once."""
    now = now or utcnow()
    decided: dict[int, str] = {}
    after_id = 0
    for _ in range(PASS_MAX // BATCH):
        judged = await _pending_page(after_id, now)
        for row, judgement in judged:
            if judgement.status == FixStatus.PENDING.value:
                continue
            if judgement.expression is not None:
                await _check_expression(judgement)
            if await _store(row, judgement, now):
                decided[row.alert_id] = judgement.status
                log.info("fix judged", extra={"alert_id": row.alert_id, "fix_status": judgement.status})
        if len(judged) < BATCH:
            break
        after_id = judged[-1][0].id or after_id
    if decided:
        await bus.publish(TOPIC, ids=list(decided)[:100], count=len(decided), source=SOURCE)
    return decided


async def _listen(wake: asyncio.Event) -> None:
    with bus.subscribe() as queue:
        while True:
            event = await queue.get()
            if event.get("topic") in WAKE_TOPICS and event.get("source") != SOURCE:
                wake.set()


async def run_verifier() -> None:
    """The lifespan task (nothing when FIX_VERIFY_INTERVAL_SECONDS is 0)."""
    every = get_settings().fix_verify_interval_seconds
    if every <= 0:
        return
    wake = asyncio.Event()
    listener = asyncio.create_task(_listen(wake), name="fix-verification-wake")
    database_down = False
    try:
        while True:
            started = asyncio.get_running_loop().time()
            try:
                await verify_due()
                database_down = False
            except TRANSIENT_DB_ERRORS:
                if not database_down:
                    log.warning("fix verification skipped: database unavailable")
                database_down = True
            except Exception:
                log.exception("fix verification failed")
            # At most one pass a second, however often notifications wake it.
            await asyncio.sleep(max(0.0, 1.0 - (asyncio.get_running_loop().time() - started)))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=every)
            wake.clear()
    finally:
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)
