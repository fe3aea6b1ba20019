"""The board's counts: alerts by status and severity, and the firing ones silenced, inhibited or acked,
in one grouped query.

They count what the other filters (search, labels, action, analysis) leave, whatever the status,
severity and Alertmanager state picked: each count is what picking it would list.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.models import Alert
from remediation_app.services.alerts.filters import (
    OTHER_SEVERITY,
    SEVERITY_BUCKETS,
    SEVERITY_ORDER,
    STATUSES,
    AlertFilter,
    acked,
    inhibited,
    silenced,
)
from remediation_app.services.alerts.store import filter_clauses


@dataclass
class AlertCounts:
    # (status, severity bucket) -> alerts
    by_severity: dict[tuple[str, str], int] = field(default_factory=dict)
    # Firing alerts only: silenced, inhibited, acked, and "active" (none of the three).
    silenced: int = 0
    inhibited: int = 0
    acked: int = 0
    active: int = 0

    def status_total(self, status: str) -> int:
        return sum(n for (s, _), n in self.by_severity.items() if s == status)

    def flat(self) -> dict[str, int]:
        """ "firing:critical", ..., "firing", "resolved", "silenced", "inhibited", "acked", "active"."""
        counts = {f"{s}:{b}": self.by_severity.get((s, b), 0) for s in STATUSES for b in SEVERITY_BUCKETS}
        counts.update({s: self.status_total(s) for s in STATUSES})
        counts.update(silenced=self.silenced, inhibited=self.inhibited, acked=self.acked, active=self.active)
        return counts


def _bucket() -> Any:
    return sa.case(*((col(Alert.severity) == name, name) for name in SEVERITY_ORDER), else_=OTHER_SEVERITY)


def _flag(clause: Any) -> Any:
    return sa.case((clause, 1), else_=0)


async def alert_counts(session: AsyncSession, flt: AlertFilter) -> AlertCounts:
    """Counts under `flt` without its status, severity and Alertmanager state (MatcherError as
    list_alerts raises it)."""
    clauses = await filter_clauses(session, dataclasses.replace(flt, status="", severity="", am=""))
    # Grouped outside: PostgreSQL compares GROUP BY expressions by text, and each CASE's literals
    # would be separate parameters there.
    inner = (
        sa.select(
            col(Alert.status).label("status"),
            _bucket().label("bucket"),
            _flag(silenced()).label("silenced"),
            _flag(inhibited()).label("inhibited"),
            _flag(acked()).label("acked"),
        )
        .where(*clauses)
        .subquery()
    )
    c = inner.c
    keys = (c.status, c.bucket, c.silenced, c.inhibited, c.acked)
    # SQLAlchemy's select (sqlmodel's types stop at four columns); exec returns its rows as they are.
    grouped: Any = sa.select(*keys, sa.func.count()).group_by(*keys)
    rows = await session.exec(grouped)
    counts = AlertCounts()
    for status, bucket, is_silenced, is_inhibited, is_acked, n in rows.all():
        key = (str(status), str(bucket))
        counts.by_severity[key] = counts.by_severity.get(key, 0) + int(n)
        if status != "firing":
            continue
        counts.silenced += int(n) if is_silenced else 0
        counts.inhibited += int(n) if is_inhibited else 0
        counts.acked += int(n) if is_acked else 0
        counts.active += 0 if (is_silenced or is_inhibited or is_acked) else int(n)
    return counts
