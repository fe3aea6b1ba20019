"""Evidence from our own store: alerts firing now that share the alert's place, and the alert's history.

Both are bounded: a fixed number of rows is read (newest first) and filtered in Python, because label
sets are JSON and a JSON filter is not portable between SQLite and PostgreSQL. The same functions
answer the model's tool calls (search of current alerts by labels, alert history).
"""

from __future__ import annotations

import contextlib
import statistics
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.db import async_session
from remediation_app.models import Alert, AlertStatus, utcnow
from remediation_app.services.records import isoformat

# The labels that say where an alert is; two alerts sharing one of these are probably about one place.
SHARED_LABELS = ("instance", "job", "namespace", "service", "pod")
SCAN_MAX = 2000  # firing alerts read, newest first, when looking for related ones
RELATED_MAX = 20  # related alerts shown to the model
HISTORY_MAX = 50  # earlier occurrences read
FLAP_WINDOW = timedelta(hours=6)
FLAP_COUNT = 3  # occurrences within FLAP_WINDOW that make an alert "flapping"
VALUE_MAX = 120  # characters of a label value in the text


def _cut(value: Any, limit: int = VALUE_MAX) -> str:
    text = str(value)
    return text if len(text) <= limit else text[:limit] + "…"


def _when(moment: datetime, now: datetime) -> str:
    return f"{moment.strftime('%Y-%m-%dT%H:%M:%SZ')} ({duration_text(now - moment)} ago)"


def duration_text(delta: timedelta) -> str:
    """A duration as on-call people say it: 42m, 3h05m, 2d4h."""
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d{seconds % 86400 // 3600}h"


@dataclass
class RelatedAlerts:
    text: str
    alerts: list[dict[str, Any]] = field(default_factory=list)
    scanned: int = 0
    found: int = 0  # how many matched (`alerts` holds the first `limit` of them)


def _shared(labels: dict[str, str], wanted: dict[str, str]) -> list[str]:
    return [name for name, value in wanted.items() if value and labels.get(name) == value]


async def related_alerts(
    session: AsyncSession,
    where: dict[str, str],
    *,
    exclude_id: int | None = None,
    limit: int = RELATED_MAX,
    any_of: bool = True,
) -> RelatedAlerts:
    """Firing alerts whose labels equal `where` on at least one name (any_of) or on all of them.

    For an alert's own evidence `where` is its values of SHARED_LABELS; for a tool call, the labels
    the model asked for."""
    wanted = {str(k)[:200]: str(v)[:1000] for k, v in where.items() if v}
    if not wanted:
        return RelatedAlerts(text="No labels to match on.")
    # Only the columns shown: whole ORM rows cost ~3x as much to load, on the event loop.
    columns = (Alert.id, Alert.alertname, Alert.severity, Alert.starts_at, Alert.labels, Alert.summary)
    rows = await session.exec(
        select(*columns)  # type: ignore[call-overload]
        .where(col(Alert.status) == AlertStatus.FIRING.value)
        .order_by(col(Alert.last_received_at).desc(), col(Alert.id).desc())
        .limit(SCAN_MAX)
    )
    return match_related(rows, wanted, exclude_id=exclude_id, limit=limit, any_of=any_of)


def match_related(
    rows: Iterable[Any],
    wanted: dict[str, str],
    *,
    exclude_id: int | None = None,
    limit: int = RELATED_MAX,
    any_of: bool = True,
) -> RelatedAlerts:
    """`related_alerts` over firing alerts already read, newest first (rows with id, alertname,
    severity, starts_at, labels and summary): the database's, or an evaluation case's."""
    found: list[tuple[Any, list[str]]] = []
    scanned = 0
    alert: Any
    for alert in rows:
        scanned += 1
        if alert.id == exclude_id:
            continue
        shared = _shared(alert.labels, wanted)
        if shared if any_of else len(shared) == len(wanted):
            found.append((alert, shared))
    now = utcnow()
    shown = found[:limit]
    items = [
        {
            "id": alert.id,
            "alertname": alert.alertname,
            "severity": alert.severity,
            "starts_at": alert.starts_at.isoformat(),
            "shared": shared,
            "summary": _cut(alert.summary, 200),
        }
        for alert, shared in shown
    ]
    asked = ", ".join(f'{k}="{_cut(v)}"' for k, v in wanted.items())
    if not found:
        text = f"No other firing alert shares {'any of' if any_of else 'all of'}: {asked}."
    else:
        lines = [f"{len(found)} other firing alert(s) share {'one of' if any_of else 'all of'}: {asked}."]
        for alert, shared in shown:
            places = ", ".join(f"{name}={_cut(alert.labels.get(name, ''))}" for name in shared)
            lines.append(
                f"- {_cut(alert.alertname)} [{_cut(alert.severity) or 'no severity'}] since "
                f"{_when(alert.starts_at, now)}; shares {places}; {_cut(alert.summary, 200)}"
            )
        if len(found) > len(shown):
            lines.append(f"(and {len(found) - len(shown)} more)")
        text = "\n".join(lines)
    if scanned >= SCAN_MAX:
        text += f"\n(only the {SCAN_MAX} most recently notified firing alerts were searched)"
    return RelatedAlerts(text=text, alerts=items, scanned=scanned, found=len(found))


def place_of(alert: Alert) -> dict[str, str]:
    """The alert's values of SHARED_LABELS (the columns first: they are set from labels at ingest)."""
    place = {name: str(alert.labels.get(name, "")) for name in SHARED_LABELS}
    return {name: value for name, value in place.items() if value}


@dataclass
class History:
    text: str
    occurrences: list[dict[str, Any]] = field(default_factory=list)
    flapping: bool = False
    capped: bool = False  # `limit` occurrences were read: there may be more
    median_s: int | None = None  # of the occurrences that ended
    longest_s: int | None = None


async def alert_history(
    session: AsyncSession,
    alertname: str,
    instance: str,
    *,
    before: datetime | None = None,
    exclude_id: int | None = None,
    limit: int = HISTORY_MAX,
) -> History:
    """Earlier occurrences of `alertname` on `instance`: how many, when, how long each lasted, flapping."""
    # Only the columns used: the whole rows would carry each occurrence's labels and annotations.
    query = select(col(Alert.id), col(Alert.starts_at), col(Alert.ends_at), col(Alert.status)).where(
        col(Alert.alertname) == alertname[:255], col(Alert.instance) == instance[:255]
    )
    if before is not None:
        query = query.where(col(Alert.starts_at) <= before)
    if exclude_id is not None:
        query = query.where(col(Alert.id) != exclude_id)
    query = query.order_by(col(Alert.starts_at).desc()).limit(limit)
    rows: list[Any] = list((await session.exec(query)).all())
    return describe_history(rows, alertname, instance, before=before, limit=limit)


def describe_history(
    rows: list[Any], alertname: str, instance: str, *, before: datetime | None = None, limit: int = HISTORY_MAX
) -> History:
    """`alert_history` over occurrences already read, newest first (rows with id, starts_at, ends_at
    and status): the database's, or an evaluation case's."""
    place = f'alertname="{_cut(alertname)}" on instance="{_cut(instance)}"'
    if not rows:
        return History(text=f"No earlier occurrence of {place} in the store.")
    now = utcnow()
    items: list[dict[str, Any]] = []
    durations: list[float] = []
    for alert in rows:
        lasted = (alert.ends_at - alert.starts_at).total_seconds() if alert.ends_at else None
        if lasted is not None and lasted >= 0:
            durations.append(lasted)
        items.append(
            {
                "id": alert.id,
                "starts_at": alert.starts_at.isoformat(),
                "ends_at": isoformat(alert.ends_at),
                "status": alert.status,
                "lasted_s": int(lasted) if lasted is not None and lasted >= 0 else None,
            }
        )
    starts = sorted(alert.starts_at for alert in rows)
    reference = before or now
    recent = [moment for moment in starts if reference - moment <= FLAP_WINDOW]
    flapping = len(recent) >= FLAP_COUNT
    lines = [
        f"{len(rows)}{'+' if len(rows) >= limit else ''} earlier occurrence(s) of {place}; "
        f"first seen {_when(starts[0], now)}, last {_when(starts[-1], now)}."
    ]
    if durations:
        lines.append(
            f"Each lasted: median {duration_text(timedelta(seconds=statistics.median(durations)))}, "
            f"longest {duration_text(timedelta(seconds=max(durations)))}."
        )
    if flapping:
        lines.append(f"Flapping: {len(recent)} occurrences within {int(FLAP_WINDOW.total_seconds() // 3600)} h.")
    for item in items[:10]:
        how = (
            f"lasted {duration_text(timedelta(seconds=item['lasted_s']))}"
            if item["lasted_s"] is not None
            else item["status"]
        )
        lines.append(f"- started {item['starts_at']}, {how}")
    return History(
        text="\n".join(lines),
        occurrences=items,
        flapping=flapping,
        capped=len(rows) >= limit,
        median_s=int(statistics.median(durations)) if durations else None,
        longest_s=int(max(durations)) if durations else None,
    )


class AlertReader(Protocol):
    """Where an investigation reads related alerts and an alert's history: the database
    (`SessionReader`), or an evaluation case (services/evals/replay.py)."""

    async def related(
        self, where: dict[str, str], *, exclude_id: int | None = None, any_of: bool = True
    ) -> RelatedAlerts: ...

    async def history(
        self, alertname: str, instance: str, *, before: datetime | None = None, exclude_id: int | None = None
    ) -> History: ...


# Opens a reader for a few reads in a row (one database session for them).
AlertStore = Callable[[], AbstractAsyncContextManager[AlertReader]]


class SessionReader:
    """The alert store's reads in one database session (not for concurrent use)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def related(
        self, where: dict[str, str], *, exclude_id: int | None = None, any_of: bool = True
    ) -> RelatedAlerts:
        return await related_alerts(self.session, where, exclude_id=exclude_id, any_of=any_of)

    async def history(
        self, alertname: str, instance: str, *, before: datetime | None = None, exclude_id: int | None = None
    ) -> History:
        return await alert_history(self.session, alertname, instance, before=before, exclude_id=exclude_id)


@contextlib.asynccontextmanager
async def database_store() -> AsyncIterator[AlertReader]:
    """The live store: one session for the reads made inside (opening one costs more than a query)."""
    async with async_session() as session:
        yield SessionReader(session)
