"""The alert page's state: the alert's summary card, links and notification timeline, refreshed live
with its sections (labels, analysis and chat have their own states beside this one). The view is
alert.py.

Alert text is bounded before it reaches a state var (services/alert_text.py): the summary card
holds only the alert's short fields, each cut at TEXT_MAX, and links up to URL_MAX characters."""

from __future__ import annotations

from typing import Any

import reflex as rx

from remediation_app.db import TRANSIENT_DB_ERRORS, async_session
from remediation_app.models import Alert
from remediation_app.pages.alerts.analysis_state import AlertAnalysisState, AnalysisPanel, load_analysis_panel
from remediation_app.pages.alerts.chat_state import AlertChatState
from remediation_app.pages.alerts.labels_state import AlertLabelsState, compute_pages
from remediation_app.services.alert_text import PairsPage, bounded_link, clipped
from remediation_app.services.alerts.store import alert_summary, alert_timeline, get_alert
from remediation_app.services.auth import Forbidden
from remediation_app.state import UNAVAILABLE_RETRYING, follow_events, route_alert_id, user_from_cookies

RUNBOOK_KEYS = ("runbook_url", "runbook")
TEXT_MAX = 2_000  # any field of the summary card (ingest already cuts names at 255, the summary at 1,024)
TIMELINE_KEYS = ("received_at", "status", "receiver")  # what the table shows (not the group key)


class AlertPageState(rx.State):
    found: bool = True
    alert: dict[str, str] = {}
    timeline: list[dict[str, str]] = []
    runbook_url: str = ""
    generator_url: str = ""
    error: str = ""

    def _alert_id(self) -> int:
        """The id in the URL (/alerts/<id>), or 0 when it cannot be an alert's id."""
        return route_alert_id(self)

    def _forget_other_alert(self, alert_id: int) -> None:
        """Opening another alert in this tab: never show the previous one under the new URL."""
        if self.alert.get("id") != str(alert_id):
            self.found, self.alert, self.timeline = True, {}, []
            self.runbook_url = self.generator_url = self.error = ""

    async def _refresh(self) -> None:
        """Raises Forbidden (after forgetting the alert) when the tab's login is gone or revoked."""
        async with self:
            alert_id, cookies = self._alert_id(), self.router.headers.cookie
            shown_pages = (await self.get_state(AlertLabelsState))._pages()
        try:
            await user_from_cookies(cookies)
        except Forbidden:
            async with self:
                self._forget_other_alert(-1)
                (await self.get_state(AlertAnalysisState))._forget()
                (await self.get_state(AlertChatState))._forget()
                (await self.get_state(AlertLabelsState))._forget()
            raise
        shown: dict[str, str] | None = None
        runbook = source = ""
        pairs: list[PairsPage] = []
        timeline: list[dict[str, Any]] = []
        panel: AnalysisPanel | None = None
        try:
            async with async_session() as session:
                alert = await get_alert(session, alert_id) if alert_id else None
                if alert is not None:
                    shown, runbook, source = _bounded(alert)
                    pairs = compute_pages(shown_pages, alert.labels, alert.annotations)
                    timeline = await alert_timeline(session, alert_id)
                    panel = await load_analysis_panel(session, alert_id)
            error = ""
        except TRANSIENT_DB_ERRORS:
            error = UNAVAILABLE_RETRYING
        async with self:
            self.error = error
            if error:
                return
            self.found = shown is not None
            if shown is None or panel is None:
                (await self.get_state(AlertAnalysisState))._forget()
                (await self.get_state(AlertLabelsState))._forget()
                return
            (await self.get_state(AlertAnalysisState))._show(alert_id, panel)
            (await self.get_state(AlertLabelsState))._show(alert_id, shown_pages, *pairs)
            self.alert, self.runbook_url, self.generator_url = shown, runbook, source
            self.timeline = [{k: str(t[k]) for k in TIMELINE_KEYS} for t in timeline]

    @rx.event(background=True)
    async def watch(self):
        async with self:
            alert_id = self._alert_id()
            self._forget_other_alert(alert_id)
            (await self.get_state(AlertAnalysisState))._forget_unless(alert_id)
            (await self.get_state(AlertLabelsState))._forget_unless(alert_id)

        def concerns_me(event: dict[str, Any]) -> bool:
            ids = event.get("ids", [])
            return alert_id in ids or event.get("count", 0) > len(ids)

        await follow_events(self, self._refresh, concerns_me)


def _bounded(alert: Alert) -> tuple[dict[str, str], str, str]:
    """What the summary card shows (the alert's short fields), its runbook and source links."""
    fields = alert_summary(alert) | {
        "receiver": alert.receiver,
        "rule_name": alert.matched_rule_name or "(none: default action)",
        "rule_reason": alert.match_reason,
    }
    shown = {k: "" if v is None else clipped(str(v), TEXT_MAX) for k, v in fields.items()}
    annotations = alert.annotations or {}
    runbook = next((bounded_link(str(annotations[k])) for k in RUNBOOK_KEYS if k in annotations), "")
    return shown, runbook, bounded_link(alert.generator_url)
