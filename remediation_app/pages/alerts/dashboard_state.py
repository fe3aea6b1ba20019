"""The board's state: the live alert list (filters, sort, server-side pages, pushed updates), the counts
by status and severity, LLM spend and the daily budget. The view is dashboard.py.

The address is the board's: opening (or reloading) the page reads its filters, sort and page from the
query string (dashboard_url.py; what cannot be used is named in `notice`), and `url_query` is the query
string of what the board shows, which the page writes back into the address bar (board.jsx).

A row holds the alert's short fields only (never its labels or annotations), each cut at
ROW_TEXT_MAX characters: a page of rows stays small whatever the alerts carry."""

from __future__ import annotations

import functools
from typing import Any

import reflex as rx
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.components.pager import FilteredPagerState, fetch_page
from remediation_app.db import TRANSIENT_DB_ERRORS, async_session
from remediation_app.models import Alert
from remediation_app.pages.alerts.dashboard_url import CHOICES, MAX_LABELS_TEXT, BoardQuery, read_query, write_query
from remediation_app.services.alert_text import clipped
from remediation_app.services.alerts.counts import alert_counts
from remediation_app.services.alerts.filters import SORT_KEYS, AlertFilter, MatcherError, parse_matchers
from remediation_app.services.alerts.store import alert_summaries, list_alerts
from remediation_app.services.auth import Forbidden
from remediation_app.services.llm import costs
from remediation_app.state import UNAVAILABLE_RETRYING, end_session, follow_events, user_from_cookies

ROW_TEXT_MAX = 1_024  # the stored summary's own bound (services/alerts/ingest.py SUMMARY_MAX)
ANY = "any"  # Radix selects cannot hold an empty value
# The filters (state vars) with the longest value each keeps.
FILTERS = {
    "status": 20,
    "severity": 20,
    "action": 20,
    "analysis": 20,
    "am": 20,
    "query": 200,
    "labels": MAX_LABELS_TEXT,
}
# Columns whose first click sorts the most first (most severe, firing, most notified); others A to Z,
# and for age the youngest first.
DESCENDING_FIRST = {"status", "severity", "notified"}


def _row(alert: dict[str, object], stored: Alert) -> dict[str, str]:
    """Flat text for the table; the analysis state as `analysis_status` and `analysis_urgency`, and
    Alertmanager's view: `silenced`/`inhibited` ("yes" or ""), `acked_by`, `incident_id`."""
    analysis = alert.get("analysis")
    row = {k: "" if v is None else clipped(str(v), ROW_TEXT_MAX) for k, v in alert.items() if k != "analysis"}
    if isinstance(analysis, dict):
        row["analysis_status"] = str(analysis.get("status") or "none")
        row["analysis_urgency"] = str(analysis.get("urgency") or "")
    row["silenced"] = "yes" if stored.am_silenced_by else ""
    row["inhibited"] = "yes" if stored.am_inhibited_by else ""
    row["acked_by"] = clipped(stored.acked_by or "", 150)
    row["incident_id"] = str(stored.incident_id or "")
    return row


async def _alert_rows(
    flt: AlertFilter, sort: str, session: AsyncSession, limit: int, offset: int
) -> tuple[list[dict[str, str]], int]:
    alerts, total = await list_alerts(session, flt, sort=sort, limit=limit, offset=offset)
    summaries = await alert_summaries(session, alerts)
    return [_row(s, a) for s, a in zip(summaries, alerts, strict=True)], total


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
    am: str = ANY  # Alertmanager's view: silenced, inhibited, acked, active
    query: str = ""
    labels: str = ""  # label matchers as typed: team=storage, env!=dev
    sort: str = ""  # "" the board's order, else a key of SORT_KEYS, "-" first for descending
    live: bool = False
    # Why some of the address was not used (shown once, until the next load).
    notice: str = ""
    # The address's parameters that are not the board's (the login's `denied`), kept in it.
    address_others: str = ""
    # Bumped whenever the address was read: the page rewrites it then (board.jsx UrlQuery).
    url_version: int = 0
    # services.alerts.counts.AlertCounts.flat(); empty until loaded.
    counts: dict[str, int] = {}
    # LLM spend (today and this month, UTC); empty until loaded.
    spend: dict[str, str] = {}
    budget_reached: bool = False

    def _nothing(self) -> str:
        return "No alerts match."

    def _filters(self) -> dict[str, int]:
        return FILTERS

    async def _page_turned(self, moved: bool) -> Any:
        return AlertsState.reload if moved else None

    def _board(self) -> BoardQuery:
        def pick(v: str) -> str:
            return "" if v == ANY else v

        return BoardQuery(
            status=pick(self.status),
            severity=pick(self.severity),
            action=pick(self.action),
            analysis=pick(self.analysis),
            am=pick(self.am),
            q=self.query,
            labels=self.labels,
            sort=self.sort,
            page=self.page,
            others=self.address_others,
        )

    def _filter(self) -> AlertFilter:
        """The filter as set; label matchers that do not parse are left out (label_error says why)."""
        b = self._board()
        try:
            matchers = parse_matchers([b.labels])
        except MatcherError:
            matchers = ()
        return AlertFilter(b.status, b.severity, b.action, b.q, b.analysis, labels=matchers, am=b.am)

    @rx.var
    def label_error(self) -> str:
        try:
            parse_matchers([self.labels])
        except MatcherError as exc:
            return str(exc)
        return ""

    @rx.var
    def url_query(self) -> str:
        return write_query(self._board())

    @rx.var
    def tab_title(self) -> str:
        """The document title's first part: "(3) Alerts" while 3 alerts fire."""
        firing = self.counts.get("firing", 0)
        return f"({firing}) Alerts" if firing else "Alerts"

    def _read_address(self) -> None:
        board = read_query(self.router.url.query)
        for name in CHOICES:
            setattr(self, name, getattr(board, name) or ANY)
        self.query, self.labels, self.sort, self.page = board.q, board.labels, board.sort, board.page
        self.notice, self.address_others = board.notice(), board.others
        self.url_version += 1

    async def _load(self, flt: AlertFilter, sort: str, page: int) -> None:
        """Query outside the state lock, then publish rows, unless the filter, sort or page changed
        meanwhile: then a newer load (the one that change started) publishes the right rows."""
        refused = ""
        try:
            fetched = await fetch_page(functools.partial(_alert_rows, flt, sort), page)
        except MatcherError as exc:
            fetched, refused = None, str(exc)
        async with self:
            if (self._filter(), self.sort, self.page) == (flt, sort, page):
                self._show_page(fetched, unavailable=refused or UNAVAILABLE_RETRYING)

    async def _load_counts(self, flt: AlertFilter) -> None:
        try:
            async with async_session() as session:
                counts = (await alert_counts(session, flt)).flat()
        except TRANSIENT_DB_ERRORS:
            return  # the alert list says the database is unavailable
        except MatcherError:
            counts = {}
        async with self:
            if self._filter() == flt:
                self.counts = counts

    async def _refresh(self) -> None:
        """Raises Forbidden (after clearing the rows) when the tab's login is gone or revoked."""
        async with self:
            flt, sort, page, cookies = self._filter(), self.sort, self.page, self.router.headers.cookie
        try:
            await user_from_cookies(cookies)
        except Forbidden:
            async with self:
                self.rows, self.total, self.counts, self.spend, self.budget_reached = [], 0, {}, {}, False
            raise
        await self._load(flt, sort, page)
        await self._load_counts(flt)
        await self._load_spend()

    async def _load_spend(self) -> None:
        try:
            async with async_session() as session:
                spend = await costs.spend(session)
        except TRANSIENT_DB_ERRORS:
            return  # the alert list says the database is unavailable
        async with self:
            self.spend, self.budget_reached = _spend_row(spend), spend.budget_reached

    @rx.event
    async def sort_by(self, key: str):
        """Sort by a column (SORT_KEYS); clicking it again reverses the order."""
        key = str(key)
        if key not in SORT_KEYS:
            return None
        first = f"-{key}" if key in DESCENDING_FIRST else key
        self.sort = (key if first.startswith("-") else f"-{key}") if self.sort == first else first
        self.page = 0
        return AlertsState.reload

    @rx.event
    async def pick_count(self, status: str, severity: str, am: str):
        """Show what a count counts: its status, severity and Alertmanager state ("" for any)."""
        picked = {"status": str(status), "severity": str(severity), "am": str(am)}
        if any(value and value not in CHOICES[name] for name, value in picked.items()):
            return None
        for name, value in picked.items():
            setattr(self, name, value or ANY)
        self.page = 0
        return AlertsState.reload

    @rx.event
    async def clear_filters(self):
        for name in CHOICES:
            setattr(self, name, ANY)
        self.query, self.labels, self.sort, self.page, self.notice, self.address_others = "", "", "", 0, "", ""
        return AlertsState.reload

    @rx.event(background=True)
    async def watch(self):
        async with self:
            self._read_address()
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
