"""The reliability page's state (/reliability, any logged-in user; the view is reliability.py): how
often analyses were judged right and recorded fixes held, in all and per rule, alertname and LLM
provider (services/memory/reliability.py). Loaded on open and on Refresh; the login is checked on
the server each time, and a tab whose login is gone forgets the figures."""

from __future__ import annotations

from typing import Any

import reflex as rx

from remediation_app.db import TRANSIENT_DB_ERRORS, async_session
from remediation_app.services.alert_text import clipped
from remediation_app.services.auth import Forbidden
from remediation_app.services.memory.reliability import reliability
from remediation_app.state import UNAVAILABLE, login_redirect, session_user

KEY_MAX = 120  # characters of a rule's, alertname's or provider's name shown
CHART_ROWS = 10  # groups in a chart (the most recorded)
DIMENSIONS = ("by_rule", "by_alertname", "by_provider")


def _percent(rate: float | None) -> float:
    return round(rate * 100, 1) if rate is not None else 0.0


def _rate_text(rate: float | None) -> str:
    return f"{rate * 100:.0f}%" if rate is not None else "n/a"


def figures_row(row: dict[str, Any]) -> dict[str, Any]:
    """One group as the table and the chart show it: counts, rates as text and as percentages."""
    return {
        "key": clipped(str(row.get("key", "")), KEY_MAX),
        **{name: int(row[name]) for name in ("outcomes", "right", "partly", "wrong")},
        **{name: int(row[name]) for name in ("verified", "failed", "unverified", "pending")},
        "right_rate": _rate_text(row["right_rate"]),
        "held_rate": _rate_text(row["held_rate"]),
        "right_pct": _percent(row["right_rate"]),
        "held_pct": _percent(row["held_rate"]),
    }


class ReliabilityState(rx.State):
    total: dict[str, Any] = {}
    by_rule: list[dict[str, Any]] = []
    by_alertname: list[dict[str, Any]] = []
    by_provider: list[dict[str, Any]] = []
    error: str = ""

    def _forget(self) -> None:
        self.total, self.by_rule, self.by_alertname, self.by_provider, self.error = {}, [], [], [], ""

    @rx.event
    async def load(self):
        try:
            await session_user(self)
        except Forbidden:
            self._forget()
            return login_redirect(self.router.url.path)
        try:
            async with async_session() as session:
                figures = await reliability(session)
        except TRANSIENT_DB_ERRORS:
            self.error = UNAVAILABLE
            return None
        self.error = ""
        self.total = figures_row({"key": "all", **figures["total"]})
        for name in DIMENSIONS:
            setattr(self, name, [figures_row(row) for row in figures[name]])
        return None
