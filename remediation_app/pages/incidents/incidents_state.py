"""/incidents' state: the live list of incidents (a status filter, server-side pages, pushed updates).
The view is incidents.py.

A row holds the incident's short fields only, as text, its title cut at ROW_TEXT_MAX characters."""

from __future__ import annotations

import functools
from typing import Any

import reflex as rx
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.components.pager import FilteredPagerState, fetch_page
from remediation_app.services.alert_text import clipped
from remediation_app.services.alerts.incidents import STATUSES, incident_summaries, list_incidents
from remediation_app.services.auth import Forbidden
from remediation_app.state import UNAVAILABLE_RETRYING, end_session, follow_events, user_from_cookies

ROW_TEXT_MAX = 300
ANY = "any"  # Radix selects cannot hold an empty value
FILTERS = {"status": 20}


def incident_row(summary: dict[str, Any]) -> dict[str, str]:
    """Flat text for a table row (also the incident page's header)."""
    analysis = summary.get("analysis") or {}
    return {
        "id": str(summary["id"]),
        "title": clipped(str(summary["title"]), ROW_TEXT_MAX),
        "status": str(summary["status"]),
        "severity": clipped(str(summary["severity"]), 40),
        "alert_count": str(summary["alert_count"]),
        "firing_count": str(summary["firing_count"]),
        "storm": "storm" if summary["storm"] else "",
        "receiver": clipped(str(summary["receiver"]), 100),
        "opened_at": str(summary["opened_at"]),
        "last_notified_at": str(summary["last_notified_at"]),
        "resolved_at": str(summary["resolved_at"] or ""),
        "analysis_status": str(analysis.get("status") or "none"),
        "analysis_urgency": str(analysis.get("urgency") or ""),
    }


async def _incident_rows(
    status: str, session: AsyncSession, limit: int, offset: int
) -> tuple[list[dict[str, str]], int]:
    rows, total = await list_incidents(session, status=status, limit=limit, offset=offset)
    return [incident_row(s) for s in await incident_summaries(session, rows)], total


class IncidentsState(FilteredPagerState, rx.State):
    status: str = ANY
    live: bool = False

    def _nothing(self) -> str:
        return "No incidents match."

    def _filters(self) -> dict[str, int]:
        return FILTERS

    async def _page_turned(self, moved: bool) -> Any:
        return IncidentsState.reload if moved else None

    def _status(self) -> str:
        return self.status if self.status in STATUSES else ""

    async def _load(self, status: str, page: int) -> None:
        """Query outside the state lock; publish unless the filter or page changed meanwhile."""
        fetched = await fetch_page(functools.partial(_incident_rows, status), page)
        async with self:
            if (self._status(), self.page) == (status, page):
                self._show_page(fetched, unavailable=UNAVAILABLE_RETRYING)

    async def _refresh(self) -> None:
        """Raises Forbidden (after clearing the rows) when the tab's login is gone or revoked."""
        async with self:
            status, page, cookies = self._status(), self.page, self.router.headers.cookie
        try:
            await user_from_cookies(cookies)
        except Forbidden:
            async with self:
                self.rows, self.total = [], 0
            raise
        await self._load(status, page)

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
