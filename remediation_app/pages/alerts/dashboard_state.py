"""The dashboard's state: the live alert list (filters, server-side pages, pushed updates), LLM
spend and the daily budget. The view is dashboard.py.

A row holds the alert's short fields only (never its labels or annotations), each cut at
ROW_TEXT_MAX characters: a page of rows stays small whatever the alerts carry."""

from __future__ import annotations

import functools
from typing import Any

import reflex as rx
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.components.pager import FilteredPagerState, fetch_page
from remediation_app.db import TRANSIENT_DB_ERRORS, async_session
from remediation_app.services.alert_text import clipped
from remediation_app.services.alerts.store import AlertFilter, alert_summaries, list_alerts
from remediation_app.services.auth import Forbidden
from remediation_app.services.llm import costs
from remediation_app.state import UNAVAILABLE_RETRYING, end_session, follow_events, user_from_cookies

ROW_TEXT_MAX = 1_024  # the stored summary's own bound (services/alerts/ingest.py SUMMARY_MAX)
ANY = "any"  # Radix selects cannot hold an empty value
# The filters (state vars) with the longest value each keeps.
FILTERS = {"status": 20, "severity": 20, "action": 20, "analysis": 20, "query": 200}


def _row(alert: dict[str, object]) -> dict[str, str]:
    """Flat text for the table; the analysis state as `analysis_status` and `analysis_urgency`."""
    analysis = alert.get("analysis")
    row = {k: "" if v is None else clipped(str(v), ROW_TEXT_MAX) for k, v in alert.items() if k != "analysis"}
    if isinstance(analysis, dict):
        row["analysis_status"] = str(analysis.get("status") or "none")
        row["analysis_urgency"] = str(analysis.get("urgency") or "")
    return row


async def _alert_rows(
    flt: AlertFilter, session: AsyncSession, limit: int, offset: int
) -> tuple[list[dict[str, str]], int]:
    alerts, total = await list_alerts(session, flt, limit=limit, offset=offset)
    return [_row(s) for s in await alert_summaries(session, alerts)], total


def _usd(value: float) -> str:
    return f"${value:,.2f}" if value >= 1 else f"${value:.4f}"


def _spend_row(spend: costs.Spend) -> dict[str, str]:
    return {
        "today_usd": _usd(spend.today_usd),
        "month_usd": _usd(spend.month_usd),
        "today_tokens": f"{spend.today_tokens:,}",
        "month_tokens": f"{spend.month_tokens:,}",
        "analyses_today": str(spend.analyses_today),
        "budget": "" if spend.budget_usd is None else _usd(spend.budget_usd),
    }


class AlertsState(FilteredPagerState, rx.State):
    status: str = ANY
    severity: str = ANY
    action: str = ANY
    analysis: str = ANY
    query: str = ""
    live: bool = False
    # LLM spend (today and this month, UTC); empty until loaded.
    spend: dict[str, str] = {}
    budget_reached: bool = False

    def _nothing(self) -> str:
        return "No alerts match."

    def _filters(self) -> dict[str, int]:
        return FILTERS

    async def _page_turned(self, moved: bool) -> Any:
        return AlertsState.reload if moved else None

    def _filter(self) -> AlertFilter:
        def pick(v: str) -> str:
            return "" if v == ANY else v

        return AlertFilter(pick(self.status), pick(self.severity), pick(self.action), self.query, pick(self.analysis))

    async def _load(self, flt: AlertFilter, page: int) -> None:
        """Query outside the state lock, then publish rows, unless the filter or page changed
        meanwhile: then a newer load (the one that change started) publishes the right rows."""
        fetched = await fetch_page(functools.partial(_alert_rows, flt), page)
        async with self:
            if (self._filter(), self.page) == (flt, page):
                self._show_page(fetched, unavailable=UNAVAILABLE_RETRYING)

    async def _refresh(self) -> None:
        """Raises Forbidden (after clearing the rows) when the tab's login is gone or revoked."""
        async with self:
            flt, page, cookies = self._filter(), self.page, self.router.headers.cookie
        try:
            await user_from_cookies(cookies)
        except Forbidden:
            async with self:
                self.rows, self.total, self.spend, self.budget_reached = [], 0, {}, False
            raise
        await self._load(flt, page)
        await self._load_spend()

    async def _load_spend(self) -> None:
        try:
            async with async_session() as session:
                spend = await costs.spend(session)
        except TRANSIENT_DB_ERRORS:
            return  # the alert list says the database is unavailable
        async with self:
            self.spend, self.budget_reached = _spend_row(spend), spend.budget_reached

    @rx.event(background=True)
    async def watch(self):
        async with self:
            self.live = True
        try:
            await follow_events(self, self._refresh)
        finally:
            async with self:
                self.live = False

    @rx.event(background=True)
    async def reload(self):
        try:
            await self._refresh()
        except Forbidden:
            await end_session(self)
