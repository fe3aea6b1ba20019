"""The alert page's state: the alert's summary card (with what Alertmanager says of it, its links and
its incident), the tab's title and the notification timeline, refreshed live with the page's
sections (labels, analysis, chat, related alerts and silences have their own states beside this
one). The view is alert.py.

Alert text is bounded before it reaches a state var (services/alert_text.py): the summary card
holds only the alert's short fields, each cut at TEXT_MAX, and links up to URL_MAX characters, only
http(s) ones.

A refresh reads the database first and shows it, then asks Alertmanager for the silences covering
the alert (a slow or absent Alertmanager never holds the rest of the page back).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import reflex as rx
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.db import TRANSIENT_DB_ERRORS, async_session
from remediation_app.models import Alert
from remediation_app.pages.alerts.analysis_state import AlertAnalysisState, AnalysisPanel, load_analysis_panel
from remediation_app.pages.alerts.chat_state import AlertChatState
from remediation_app.pages.alerts.labels_state import AlertLabelsState, compute_pages
from remediation_app.pages.alerts.related_state import AlertRelatedState, RelatedView, load_related
from remediation_app.pages.alerts.silence_state import (
    AlertSilencesState,
    SilenceRow,
    load_silences,
    quoted,
    silence_link,
)
from remediation_app.services.alert_text import PairsPage, bounded_link, clipped
from remediation_app.services.alerts.incidents import get_incident
from remediation_app.services.alerts.store import alert_summary, alert_timeline, firing_by_fingerprint, get_alert
from remediation_app.services.auth import Forbidden
from remediation_app.state import UNAVAILABLE_RETRYING, follow_events, route_alert_id, user_from_cookies

RUNBOOK_KEYS = ("runbook_url", "runbook")
TEXT_MAX = 2_000  # any field of the summary card (ingest already cuts names at 255, the summary at 1,024)
TIMELINE_KEYS = ("received_at", "status", "receiver")  # what the table shows (not the group key)
SUPPRESSORS_SHOWN = 10  # silences and inhibiting alerts named on the card
TITLE_MAX = 120


def tab_title(alertname: str) -> str:
    """The first part of the tab's title ("<alertname> · Remediation Engine", pages/page.py adds the
    rest): the alert's name, so that a row of tabs tells alerts apart."""
    return clipped(alertname, TITLE_MAX)


def alertmanager_base(external_url: str) -> str:
    """The alert's Alertmanager (the notification's externalURL), only an http(s) URL."""
    return bounded_link(external_url.strip()).rstrip("/")


def alertmanager_alert_link(base: str, labels: dict[str, str]) -> str:
    """The alert in its Alertmanager's UI: the alerts list filtered by its alertname and instance."""
    if not base:
        return ""
    names = [n for n in ("alertname", "instance") if labels.get(n)]
    matchers = ",".join(f"{n}={quoted(str(labels[n]))}" for n in names)
    return bounded_link(f"{base}/#/alerts?filter={quote('{' + matchers + '}', safe='')}")


class AlertPageState(rx.State):
    found: bool = True
    alert: dict[str, str] = {}
    timeline: list[dict[str, str]] = []
    runbook_url: str = ""
    generator_url: str = ""
    alertmanager_url: str = ""
    silenced_by: list[list[str]] = []  # [silence id, its link in Alertmanager or ""]
    inhibited_by: list[list[str]] = []  # [fingerprint, our page of that alert or ""]
    incident: list[str] = []  # [its page, "Incident #4 (7 alerts)"] or nothing
    title: str = ""  # tab_title(); the page's title "Alert" while empty
    error: str = ""

    def _alert_id(self) -> int:
        """The id in the URL (/alerts/<id>), or 0 when it cannot be an alert's id."""
        return route_alert_id(self)

    def _forget_other_alert(self, alert_id: int) -> None:
        """Opening another alert in this tab: never show the previous one under the new URL."""
        if self.alert.get("id") != str(alert_id):
            self.found, self.alert, self.timeline = True, {}, []
            self.runbook_url = self.generator_url = self.alertmanager_url = self.error = ""
            self.silenced_by, self.inhibited_by, self.incident = [], [], []
            self.title = ""

    async def _forget_sections(self) -> None:
        (await self.get_state(AlertAnalysisState))._forget()
        (await self.get_state(AlertLabelsState))._forget()
        (await self.get_state(AlertRelatedState))._forget()
        (await self.get_state(AlertSilencesState))._forget()

    async def _refresh(self, watched: set[int]) -> None:
        """Raises Forbidden (after forgetting the alert) when the tab's login is gone or revoked.
        `watched` becomes the alerts whose changes concern the page: the alert and its related ones."""
        async with self:
            alert_id, cookies = self._alert_id(), self.router.headers.cookie
            shown_pages = (await self.get_state(AlertLabelsState))._pages()
        try:
            await user_from_cookies(cookies)
        except Forbidden:
            async with self:
                self._forget_other_alert(-1)
                await self._forget_sections()
                (await self.get_state(AlertChatState))._forget()
            raise
        shown: dict[str, Any] | None = None
        pairs: list[PairsPage] = []
        timeline: list[dict[str, Any]] = []
        panel: AnalysisPanel | None = None
        related = RelatedView()
        base_url = ""
        try:
            async with async_session() as session:
                alert = await get_alert(session, alert_id) if alert_id else None
                if alert is not None:
                    shown = await _card(session, alert)
                    base_url = alertmanager_base(alert.external_url)
                    pairs = compute_pages(shown_pages, alert.labels, alert.annotations)
                    timeline = await alert_timeline(session, alert_id)
                    panel = await load_analysis_panel(session, alert_id)
                    related = await load_related(session, alert)
            error = ""
        except TRANSIENT_DB_ERRORS:
            error = UNAVAILABLE_RETRYING
        async with self:
            self.error = error
            if error:
                return
            self.found = shown is not None
            if shown is None or panel is None:
                await self._forget_sections()
                return
            (await self.get_state(AlertAnalysisState))._show(alert_id, panel)
            (await self.get_state(AlertLabelsState))._show(alert_id, shown_pages, *pairs)
            (await self.get_state(AlertRelatedState))._show(related)
            for name, value in shown.items():
                setattr(self, name, value)
            self.timeline = [{k: str(t[k]) for k in TIMELINE_KEYS} for t in timeline]
        watched.clear()
        watched.update({alert_id, *related.related_ids})
        await self._refresh_silences(alert_id, base_url)

    async def _refresh_silences(self, alert_id: int, base_url: str) -> None:
        rows: list[SilenceRow] = []
        try:
            async with async_session() as session:
                rows, problem = await load_silences(session, alert_id, base_url)
        except TRANSIENT_DB_ERRORS:
            problem = UNAVAILABLE_RETRYING
        async with self:
            if self._alert_id() == alert_id:
                (await self.get_state(AlertSilencesState))._show(alert_id, rows, problem, base_url)

    @rx.event(background=True)
    async def watch(self):
        async with self:
            alert_id = self._alert_id()
            self._forget_other_alert(alert_id)
            (await self.get_state(AlertAnalysisState))._forget_unless(alert_id)
            (await self.get_state(AlertLabelsState))._forget_unless(alert_id)
            (await self.get_state(AlertSilencesState))._forget_unless(alert_id)
        watched: set[int] = {alert_id}

        def concerns_me(event: dict[str, Any]) -> bool:
            ids = event.get("ids", [])
            return not watched.isdisjoint(ids) or event.get("count", 0) > len(ids)

        async def refresh() -> None:
            await self._refresh(watched)

        await follow_events(self, refresh, concerns_me)


async def _card(session: AsyncSession, alert: Alert) -> dict[str, Any]:
    """The page's vars for the summary card: the alert's short fields, its links, what Alertmanager
    says of it, its incident."""
    fields = alert_summary(alert) | {
        "receiver": alert.receiver,
        "rule_name": alert.matched_rule_name or "(none: default action)",
        "rule_reason": alert.match_reason,
        "am_state": alert.am_state,
        "acked_by": alert.acked_by,
        "acked_at": alert.acked_at.isoformat() if alert.acked_at else "",
    }
    annotations = alert.annotations or {}
    base = alertmanager_base(alert.external_url)
    silences = [str(s) for s in (alert.am_silenced_by or [])[:SUPPRESSORS_SHOWN]]
    inhibitors = [str(f) for f in (alert.am_inhibited_by or [])[:SUPPRESSORS_SHOWN]]
    pages = await firing_by_fingerprint(session, inhibitors) if inhibitors else {}
    incident = await get_incident(session, alert.incident_id) if alert.incident_id else None
    return {
        "alert": {k: "" if v is None else clipped(str(v), TEXT_MAX) for k, v in fields.items()},
        "runbook_url": next((bounded_link(str(annotations[k])) for k in RUNBOOK_KEYS if k in annotations), ""),
        "generator_url": bounded_link(alert.generator_url),
        "alertmanager_url": alertmanager_alert_link(base, alert.labels or {}),
        "silenced_by": [[clipped(s, 64), silence_link(base, s)] for s in silences],
        "inhibited_by": [[clipped(f, 64), f"/alerts/{pages[f]}" if f in pages else ""] for f in inhibitors],
        "incident": [f"/incidents/{incident.id}", f"Incident #{incident.id} ({_alerts(incident.alert_count)})"]
        if incident is not None
        else [],
        "title": tab_title(alert.alertname),
    }


def _alerts(count: int) -> str:
    return f"{count} alert" if count == 1 else f"{count} alerts"
