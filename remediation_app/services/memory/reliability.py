"""Learning from outcomes: per rule, per alertname and per LLM provider, how often the analyses were
judged right (partly, wrong) and how often the recorded fixes held (verified against failed; the
unverified and pending ones are counted apart: they say nothing either way).

Grouped in the database (one GROUP BY per table, at most GROUPS_MAX groups each, the most recorded
first), from what each outcome copied when it was recorded (a rule or provider renamed later keeps
its old name here)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.models import FixStatus, IncidentOutcome, Verdict

GROUPS_MAX = 50
NO_RULE = "(no rule: default action)"
NO_ANALYSIS = "(no analysis)"
COUNTED = (
    ("right", IncidentOutcome.verdict, Verdict.RIGHT.value),
    ("partly", IncidentOutcome.verdict, Verdict.PARTLY.value),
    ("wrong", IncidentOutcome.verdict, Verdict.WRONG.value),
    ("verified", IncidentOutcome.fix_status, FixStatus.VERIFIED.value),
    ("failed", IncidentOutcome.fix_status, FixStatus.FAILED.value),
    ("unverified", IncidentOutcome.fix_status, FixStatus.UNVERIFIED.value),
    ("pending", IncidentOutcome.fix_status, FixStatus.PENDING.value),
)


def _sums() -> list[Any]:
    return [func.sum(sa.case((col(column) == value, 1), else_=0)).label(name) for name, column, value in COUNTED]


def _rates(row: dict[str, Any]) -> dict[str, Any]:
    counts = {name: int(row.get(name) or 0) for name, _column, _value in COUNTED}
    outcomes = int(row.get("outcomes") or 0)
    judged = counts["verified"] + counts["failed"]
    return {
        "outcomes": outcomes,
        **counts,
        "right_rate": round(counts["right"] / outcomes, 4) if outcomes else None,
        "held_rate": round(counts["verified"] / judged, 4) if judged else None,
    }


async def _grouped(session: AsyncSession, column: Any, empty: str) -> list[dict[str, Any]]:
    rows = await session.exec(
        select(col(column).label("key"), func.count().label("outcomes"), *_sums())
        .group_by(col(column))
        .order_by(func.count().desc(), col(column))
        .limit(GROUPS_MAX)
    )
    found = [dict(row._mapping) for row in rows.all()]  # type: ignore[attr-defined]
    return [{**_rates(row), "key": row["key"] or empty} for row in found]


async def reliability(session: AsyncSession) -> dict[str, Any]:
    """The figures of the reliability page and GET /api/reliability."""
    total = (await session.exec(select(func.count().label("outcomes"), *_sums()))).one()
    return {
        "total": _rates(dict(total._mapping)),
        "by_rule": await _grouped(session, IncidentOutcome.rule_name, NO_RULE),
        "by_alertname": await _grouped(session, IncidentOutcome.alertname, "(no alertname)"),
        "by_provider": await _grouped(session, IncidentOutcome.provider_name, NO_ANALYSIS),
    }
