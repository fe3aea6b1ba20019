"""LLM spend: totals for today and this month (UTC), and the daily budget that pauses automatic analysis."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.models import Analysis, ChatMessage, utcnow
from remediation_app.settings import get_settings

# How long a process trusts the budget check it made (the worker asks before every claim).
CHECK_S = 5.0


@dataclass(frozen=True)
class Spend:
    today_usd: float
    month_usd: float
    today_tokens: int
    month_tokens: int
    analyses_today: int
    budget_usd: float | None

    @property
    def budget_reached(self) -> bool:
        return self.budget_usd is not None and self.today_usd >= self.budget_usd


def _starts(now: datetime) -> tuple[datetime, datetime]:
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return day, day.replace(day=1)


async def _table_totals(session: AsyncSession, model: Any, since: datetime) -> tuple[float, int, int]:
    tokens = func.coalesce(model.prompt_tokens, 0) + func.coalesce(model.completion_tokens, 0)
    row = (
        await session.exec(
            select(
                func.coalesce(func.sum(model.cost_usd), 0.0), func.coalesce(func.sum(tokens), 0), func.count()
            ).where(col(model.created_at) >= since)
        )
    ).one()
    return float(row[0] or 0.0), int(row[1] or 0), int(row[2])


async def _totals(session: AsyncSession, since: datetime) -> tuple[float, int, int]:
    """Cost, tokens and number of analyses since `since`; chat answers count towards cost and tokens."""
    usd, tokens, count = await _table_totals(session, Analysis, since)
    chat_usd, chat_tokens, _ = await _table_totals(session, ChatMessage, since)
    return usd + chat_usd, tokens + chat_tokens, count


async def spend(session: AsyncSession) -> Spend:
    day, month = _starts(utcnow())
    today_usd, today_tokens, today_count = await _totals(session, day)
    month_usd, month_tokens, _ = await _totals(session, month)
    return Spend(today_usd, month_usd, today_tokens, month_tokens, today_count, get_settings().llm_daily_budget_usd)


_checked: dict[str, tuple[float, bool]] = {}


async def budget_reached(session: AsyncSession) -> bool:
    """Has today's spend reached LLM_DAILY_BUDGET_USD? (False without a budget; cached CHECK_S.)"""
    budget = get_settings().llm_daily_budget_usd
    if budget is None:
        return False
    key = get_settings().database_url
    cached = _checked.get(key)
    if cached is not None and time.monotonic() - cached[0] < CHECK_S:
        return cached[1]
    day, _ = _starts(utcnow())
    reached = (await _totals(session, day))[0] >= budget
    _checked[key] = (time.monotonic(), reached)
    return reached


def clear_cache() -> None:
    _checked.clear()
