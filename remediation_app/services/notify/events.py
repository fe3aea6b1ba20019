"""What becomes a notification: the hooks the engine calls where an event happens, in the transaction
that records it (the deliveries are committed with the event, or not at all).

    alert         a new firing alert decided by a rule (services/alerts/ingest.py)
    analysis      an analysis finished (services/llm/claims.py, as the analysis is stored)
    proposal      a command waits for a person's approval (services/diagnostics/proposals.py)
    fix_verified  a recorded fix was verified, or
    fix_failed    was found not to work (fix_outcome: for the outcome's verification, issue #17)

Each hook picks the targets that want the event (route_set.py: compiled, cached), and queues one
delivery per target, once per event (a unique key per target and event: an event seen twice, e.g. a
notification Alertmanager repeats, queues nothing new). The ingest hook costs nothing but a cache
lookup while no route wants new alerts; it is the webhook's hot path.
"""

from __future__ import annotations

import asyncio
import functools
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.models import Alert, Analysis, DeliveryStatus, DiagnosticProposal, NotifyDelivery, utcnow
from remediation_app.services.notify import route_set
from remediation_app.services.notify.route_set import Target
from remediation_app.settings import get_settings

ALERT, ANALYSIS, PROPOSAL, FIX_VERIFIED, FIX_FAILED = "alert", "analysis", "proposal", "fix_verified", "fix_failed"
SUMMARY = "summary"  # the throttle's summary of held-back messages (queued by the worker, not a hook)
EVENT_KINDS = (ALERT, ANALYSIS, PROPOSAL, FIX_VERIFIED, FIX_FAILED)
EVENT_LABELS = {
    ALERT: "New alert matching a rule",
    ANALYSIS: "Analysis ready",
    PROPOSAL: "Proposal waiting for approval",
    FIX_VERIFIED: "Fix verified",
    FIX_FAILED: "Fix failed",
    SUMMARY: "Throttle summary",
}
TOPIC = "notify"  # bus events after deliveries were queued or changed
DELIVERIES = NotifyDelivery.__table__  # type: ignore[attr-defined]
CHUNK = 500
OFF_LOOP_ALERTS = 200  # as ingest: more new alerts than this are matched in a worker thread


@functools.cache
def insert_new(dialect: str) -> Any:
    """INSERT of delivery rows, doing nothing for one whose (target, dedup key) is queued already."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(DELIVERIES).on_conflict_do_nothing(index_elements=["target_key", "dedup_key"])


def delivery_row(
    target: Target, event: str, dedup_key: str, *, alert_id: int | None, subject_id: int | None = None, **data: Any
) -> dict[str, Any]:
    now = utcnow()
    return {
        "route_id": target.route_id,
        "target_key": target.key,
        "route_name": target.name,
        "target_kind": target.kind,
        "event": event,
        "alert_id": alert_id,
        "subject_id": subject_id,
        "data": data,
        "dedup_key": dedup_key[:100],
        "status": DeliveryStatus.PENDING.value,
        "attempts": 0,
        "max_attempts": get_settings().notify_max_attempts,
        "next_attempt_at": now,
        "lease_expires_at": None,
        "locked_by": "",
        "slot_at": None,
        "summary_id": None,
        "idempotency_key": str(uuid.uuid4()),
        "last_error": "",
        "created_at": now,
        "updated_at": now,
        "finished_at": None,
    }


async def enqueue(session: AsyncSession, rows: list[dict[str, Any]]) -> int:
    """Queue deliveries in the caller's transaction (one already queued for its target and event is
    skipped); returns how many were given."""
    insert = insert_new(session.get_bind().dialect.name)
    for start in range(0, len(rows), CHUNK):
        await session.exec(insert, params=rows[start : start + CHUNK])
    return len(rows)


async def alerts_created(
    session: AsyncSession, created: Sequence[tuple[int, str, str]], stored: Iterable[Mapping[str, Any]]
) -> int:
    """New alerts from ingest, in its transaction: `created` (alert id, fingerprint, status) and the rows
    ingest stored (fingerprint, labels, matched_rule_id, action: the same for every alert of one
    fingerprint). Queues a message per new firing alert for each route that wants it."""
    targets = (await route_set.current(session)).alert_targets
    if not targets or not created:
        return 0
    if len(created) > OFF_LOOP_ALERTS:  # matching in proportion to the payload: not on the event loop
        rows = await asyncio.to_thread(_alert_deliveries, targets, created, stored)
    else:
        rows = _alert_deliveries(targets, created, stored)
    return await enqueue(session, rows) if rows else 0


def _alert_deliveries(
    targets: Sequence[Target], created: Sequence[tuple[int, str, str]], stored: Iterable[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    by_fingerprint = {row["fingerprint"]: row for row in stored}
    rows = []
    for alert_id, fingerprint, status in created:
        alert = by_fingerprint.get(fingerprint)
        if status != "firing" or alert is None:
            continue
        labels = alert.get("labels") or {}
        for target in targets:
            if target.wants_alert(alert.get("matched_rule_id"), str(alert.get("action", "")), labels):
                rows.append(delivery_row(target, ALERT, f"alert:{alert_id}", alert_id=alert_id))
    return rows


async def _for_alert(
    session: AsyncSession, event: str, alert_id: int, dedup_key: str, *, subject_id: int | None = None, **data: Any
) -> int:
    targets = (await route_set.current(session)).wanting(event)
    if not targets:
        return 0
    alert = await session.get(Alert, alert_id)
    if alert is None:
        return 0
    rows = [
        delivery_row(target, event, dedup_key, alert_id=alert_id, subject_id=subject_id, **data)
        for target in targets
        if target.wants(event, alert.labels or {})
    ]
    return await enqueue(session, rows) if rows else 0


async def analysis_ready(session: AsyncSession, analysis: Analysis) -> int:
    """An analysis was stored (flushed: it has its id), in the transaction that stores it."""
    assert analysis.id is not None
    return await _for_alert(session, ANALYSIS, analysis.alert_id, f"analysis:{analysis.id}", subject_id=analysis.id)


async def proposal_waiting(session: AsyncSession, proposal: DiagnosticProposal) -> int:
    """A proposal now waits for a person's approval (flushed: it has its id)."""
    assert proposal.id is not None
    key = f"proposal:{proposal.id}"
    return await _for_alert(session, PROPOSAL, proposal.alert_id, key, subject_id=proposal.id)


async def fix_outcome(session: AsyncSession, alert_id: int, *, verified: bool, detail: str, key: str) -> int:
    """A recorded fix was verified (or found not to work) against the alert's later notifications; `key`
    names the outcome (one message per outcome and route), `detail` says what was found (alert text
    rules apply: it is shown as text)."""
    event = FIX_VERIFIED if verified else FIX_FAILED
    return await _for_alert(session, event, alert_id, f"fix:{key}", detail=str(detail)[:2000])


def dedup_summary(first_id: int) -> str:
    return f"summary:{first_id}"


def wake_topics() -> frozenset[str]:
    """Bus topics after which queued deliveries may be waiting (published after their commit)."""
    return frozenset({TOPIC, "alerts", "analysis", "proposals", "jobs", "memory"})
