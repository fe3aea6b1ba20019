"""The live alert list: filters, server-side pagination, pushed updates; LLM spend and the daily budget.

A row holds the alert's short fields only (never its labels or annotations), each cut at
ROW_TEXT_MAX characters: a page of rows stays small whatever the alerts carry."""

from __future__ import annotations

import reflex as rx

from remediation_app.components.badges import action_badge, analysis_badge, severity_badge, status_badge
from remediation_app.components.pager import page_count, pager, showing
from remediation_app.db import TRANSIENT_DB_ERRORS, async_session
from remediation_app.layout import layout
from remediation_app.services import costs
from remediation_app.services.alert_text import clipped
from remediation_app.services.alerts import ANALYSIS_FILTERS, AlertFilter, alert_summaries, list_alerts
from remediation_app.services.auth import Forbidden
from remediation_app.state import end_session, follow_events, user_from_cookies

PAGE_SIZE = 50
ROW_TEXT_MAX = 1_024  # the stored summary's own bound (services/ingest.py SUMMARY_MAX)
ANY = "any"  # Radix selects cannot hold an empty value


def _row(alert: dict[str, object]) -> dict[str, str]:
    """Flat text for the table; the analysis state as `analysis_status` and `analysis_urgency`."""
    analysis = alert.get("analysis")
    row = {k: "" if v is None else clipped(str(v), ROW_TEXT_MAX) for k, v in alert.items() if k != "analysis"}
    if isinstance(analysis, dict):
        row["analysis_status"] = str(analysis.get("status") or "none")
        row["analysis_urgency"] = str(analysis.get("urgency") or "")
    return row


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


class AlertsState(rx.State):
    rows: list[dict[str, str]] = []
    total: int = 0
    page: int = 0
    status: str = ANY
    severity: str = ANY
    action: str = ANY
    analysis: str = ANY
    query: str = ""
    live: bool = False
    error: str = ""
    # LLM spend (today and this month, UTC); empty until loaded.
    spend: dict[str, str] = {}
    budget_reached: bool = False

    @rx.var
    def page_count(self) -> int:
        return page_count(self.total, PAGE_SIZE)

    @rx.var
    def showing(self) -> str:
        return showing(
            page=self.page, page_size=PAGE_SIZE, shown=len(self.rows), total=self.total, nothing="No alerts match."
        )

    def _filter(self) -> AlertFilter:
        def pick(v: str) -> str:
            return "" if v == ANY else v

        return AlertFilter(pick(self.status), pick(self.severity), pick(self.action), self.query, pick(self.analysis))

    async def _load(self, flt: AlertFilter, page: int) -> None:
        """Query outside the state lock, then publish rows, unless the filter or page changed
        meanwhile: then a newer load (the one that change started) publishes the right rows."""
        try:
            async with async_session() as session:
                alerts, total = await list_alerts(session, flt, limit=PAGE_SIZE, offset=page * PAGE_SIZE)
                summaries = await alert_summaries(session, alerts)
            rows, error = [_row(s) for s in summaries], ""
        except TRANSIENT_DB_ERRORS:
            rows, total, error = [], 0, "The database is unavailable; retrying on the next change."
        async with self:
            if (self._filter(), self.page) == (flt, page):
                self.rows, self.total, self.error = rows, total, error

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

    @rx.event
    def set_status(self, value: str):
        self.status, self.page = value, 0
        return AlertsState.reload

    @rx.event
    def set_severity(self, value: str):
        self.severity, self.page = value, 0
        return AlertsState.reload

    @rx.event
    def set_action(self, value: str):
        self.action, self.page = value, 0
        return AlertsState.reload

    @rx.event
    def set_analysis(self, value: str):
        self.analysis, self.page = value, 0
        return AlertsState.reload

    @rx.event
    def set_query(self, value: str):
        self.query, self.page = value[:200], 0
        return AlertsState.reload

    @rx.event
    def next_page(self):
        if self.page + 1 < self.page_count:
            self.page += 1
            return AlertsState.reload

    @rx.event
    def previous_page(self):
        if self.page > 0:
            self.page -= 1
            return AlertsState.reload


def _select(items: list[str], value: rx.Var, on_change: object, id_: str, label: str) -> rx.Component:
    return rx.vstack(
        rx.text(label, size="1", color_scheme="gray"),
        rx.select(items, value=value, on_change=on_change, id=id_, size="2"),
        spacing="1",
    )


def filters() -> rx.Component:
    return rx.hstack(
        _select([ANY, "firing", "resolved"], AlertsState.status, AlertsState.set_status, "filter-status", "Status"),
        _select(
            [ANY, "critical", "warning", "info"],
            AlertsState.severity,
            AlertsState.set_severity,
            "filter-severity",
            "Severity",
        ),
        _select(
            [ANY, "auto_analyze", "manual", "ignore"],
            AlertsState.action,
            AlertsState.set_action,
            "filter-action",
            "Action",
        ),
        _select(
            [ANY, *ANALYSIS_FILTERS], AlertsState.analysis, AlertsState.set_analysis, "filter-analysis", "Analysis"
        ),
        rx.vstack(
            rx.text("Search", size="1", color_scheme="gray"),
            rx.debounce_input(
                rx.input(
                    placeholder="alertname, instance or summary",
                    value=AlertsState.query,
                    on_change=AlertsState.set_query,
                    id="filter-q",
                    width="22em",
                    max_length=200,
                ),
                debounce_timeout=250,
            ),
            spacing="1",
        ),
        rx.spacer(),
        rx.badge(
            rx.cond(AlertsState.live, "live", "connecting"),
            id="live-flag",
            color_scheme=rx.cond(AlertsState.live, "green", "gray"),
        ),
        align="end",
        spacing="4",
        width="100%",
        margin_bottom="1em",
    )


def alert_row(row: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(status_badge(row["status"])),
        rx.table.cell(severity_badge(row["severity"])),
        rx.table.cell(rx.link(row["alertname"], href="/alerts/" + row["id"], class_name="alertname")),
        rx.table.cell(rx.text(row["instance"])),
        rx.table.cell(rx.text(row["job"])),
        rx.table.cell(rx.text(row["summary"], class_name="summary", max_width="32em", trim="both")),
        rx.table.cell(action_badge(row["action"])),
        rx.table.cell(
            analysis_badge(row["analysis_status"], row["analysis_urgency"]),
            class_name="analysis-cell",
            custom_attrs={"data-analysis": row["analysis_status"]},
        ),
        rx.table.cell(rx.moment(row["starts_at"], from_now=True, interval=30_000), white_space="nowrap"),
        rx.table.cell(rx.text(row["times_notified"])),
        class_name="alert-row",
        id="alert-row-" + row["id"],
    )


def alert_table() -> rx.Component:
    headers = ["Status", "Severity", "Alert", "Instance", "Job", "Summary", "Action", "Analysis", "Age", "Notified"]
    return rx.table.root(
        rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in headers])),
        rx.table.body(rx.foreach(AlertsState.rows, alert_row), id="alert-rows"),
        width="100%",
        variant="surface",
    )


def spend_bar() -> rx.Component:
    s = AlertsState.spend
    return rx.cond(
        s.contains("today_usd"),  # type: ignore[attr-defined]
        rx.vstack(
            rx.hstack(
                rx.text("LLM spend", weight="bold", size="2"),
                rx.text(
                    "today ",
                    rx.text.span(s["today_usd"], id="spend-today"),
                    " (",
                    rx.text.span(s["today_tokens"], id="spend-today-tokens"),
                    " tokens, ",
                    rx.text.span(s["analyses_today"], id="analyses-today"),
                    " analyses)",
                    size="2",
                ),
                rx.text(
                    "this month ",
                    rx.text.span(s["month_usd"], id="spend-month"),
                    " (",
                    rx.text.span(s["month_tokens"], id="spend-month-tokens"),
                    " tokens)",
                    size="2",
                ),
                rx.cond(s["budget"] != "", rx.text("daily budget ", s["budget"], size="2", color_scheme="gray")),
                spacing="4",
                align="center",
                id="llm-spend",
            ),
            rx.cond(
                AlertsState.budget_reached,
                rx.callout(
                    f"Daily LLM budget reached ({s['today_usd']} of {s['budget']}): automatic analysis is paused; "
                    "users can still ask for analyses.",
                    color_scheme="orange",
                    id="budget-reached",
                    width="100%",
                ),
            ),
            width="100%",
            spacing="2",
            margin_bottom="1em",
        ),
    )


def dashboard() -> rx.Component:
    return layout(
        spend_bar(),
        filters(),
        rx.cond(AlertsState.error != "", rx.callout(AlertsState.error, color_scheme="red", margin_bottom="1em")),
        alert_table(),
        pager(AlertsState),
        title="Alerts",
    )
