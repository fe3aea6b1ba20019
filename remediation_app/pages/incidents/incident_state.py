"""The incident page's state (/incidents/<id>): its header, its alerts (a bounded list, firing and
most severe first), its timeline and its group analysis, refreshed live. The view is incident.py.

Alert text is bounded before it reaches a state var: rows hold short fields only, each cut."""

from __future__ import annotations

import dataclasses
from typing import Any

import reflex as rx
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.db import TRANSIENT_DB_ERRORS, async_session
from remediation_app.pages.alerts.analysis_state import AnalysisView, analysis_view, queue_state
from remediation_app.pages.incidents.incidents_state import incident_row
from remediation_app.services.alert_text import clipped
from remediation_app.services.alerts.incidents import get_incident, incident_alerts, incident_summaries
from remediation_app.services.alerts.store import alert_summaries
from remediation_app.services.alerts.timeline import incident_timeline
from remediation_app.services.auth import Forbidden
from remediation_app.services.llm.jobs import incident_analysis, incident_latest_job
from remediation_app.state import UNAVAILABLE_RETRYING, follow_events, parse_id, user_from_cookies

TEXT_MAX = 300
ALERT_KEYS = ("id", "status", "severity", "alertname", "instance", "summary", "starts_at")


@dataclasses.dataclass
class IncidentView:
    """Everything the page shows, loaded outside the state lock."""

    header: dict[str, str]
    alerts: list[dict[str, str]]
    alerts_more: int
    timeline: list[dict[str, str]]
    timeline_truncated: bool
    analysis: list[AnalysisView]
    queue_message: str


def _alert_row(summary: dict[str, Any]) -> dict[str, str]:
    row = {k: clipped("" if summary[k] is None else str(summary[k]), TEXT_MAX) for k in ALERT_KEYS}
    analysis = summary.get("analysis") or {}
    row["analysis_status"] = str(analysis.get("status") or "none")
    row["analysis_urgency"] = str(analysis.get("urgency") or "")
    return row


async def load_incident(session: AsyncSession, incident_id: int) -> IncidentView | None:
    incident = await get_incident(session, incident_id)
    if incident is None:
        return None
    [summary] = await incident_summaries(session, [incident])
    alerts = await alert_summaries(session, await incident_alerts(session, incident_id, listed=True))
    timeline = await incident_timeline(session, incident)
    analysis = await incident_analysis(session, incident_id)
    _kind, queue_message = queue_state(await incident_latest_job(session, incident_id), False)
    return IncidentView(
        header=incident_row(summary)
        | {"group_labels": clipped(", ".join(f"{k}={v}" for k, v in sorted(incident.group_labels.items())), TEXT_MAX)},
        alerts=[_alert_row(a) for a in alerts],
        alerts_more=max(0, incident.alert_count - len(alerts)),
        timeline=[{k: clipped(v, TEXT_MAX) for k, v in item.public().items()} for item in timeline.items],
        timeline_truncated=timeline.truncated,
        analysis=[analysis_view(analysis)] if analysis is not None else [],
        queue_message=queue_message,
    )


class IncidentPageState(rx.State):
    found: bool = True
    incident: dict[str, str] = {}
    # The document title's first part (the incident's title), "" until loaded.
    title: str = ""
    alerts: list[dict[str, str]] = []
    alerts_more: int = 0
    timeline: list[dict[str, str]] = []
    timeline_truncated: bool = False
    # The group analysis (storm control): none or one.
    analysis: list[AnalysisView] = []
    queue_message: str = ""
    error: str = ""

    def _incident_id(self) -> int:
        """The id in the URL (/incidents/<id>), or 0 when it cannot be an incident's id."""
        # Reflex adds each dynamic route argument to the state tree as a var of the same name.
        return parse_id(getattr(self, "incident_id", "")) or 0

    def _forget(self) -> None:
        self.found, self.incident, self.title, self.alerts, self.alerts_more = True, {}, "", [], 0
        self.timeline, self.timeline_truncated, self.analysis, self.queue_message = [], False, [], ""
        self.error = ""

    def _show(self, view: IncidentView | None) -> None:
        self.found = view is not None
        if view is None:
            self._forget()
            self.found = False
            return
        self.incident, self.title = view.header, view.header["title"]
        self.alerts, self.alerts_more = view.alerts, view.alerts_more
        self.timeline, self.timeline_truncated = view.timeline, view.timeline_truncated
        self.analysis, self.queue_message = view.analysis, view.queue_message

    async def _refresh(self) -> set[int]:
        """Load and show the incident; returns the ids of the alerts shown. Raises Forbidden (after
        forgetting the incident) when the tab's login is gone or revoked."""
        async with self:
            incident_id, cookies = self._incident_id(), self.router.headers.cookie
        try:
            await user_from_cookies(cookies)
        except Forbidden:
            async with self:
                self._forget()
            raise
        try:
            async with async_session() as session:
                view = await load_incident(session, incident_id) if incident_id else None
        except TRANSIENT_DB_ERRORS:
            async with self:
                self.error = UNAVAILABLE_RETRYING
            return set()
        async with self:
            if self._incident_id() == incident_id:
                self._show(view)
                self.error = ""
        return {int(a["id"]) for a in view.alerts} if view is not None else set()

    @rx.event(background=True)
    async def watch(self):
        async with self:
            incident_id = self._incident_id()
            if self.incident.get("id") != str(incident_id):
                self._forget()  # never show another incident under this URL
        shown: set[int] = set()  # the alerts on the page: an event about one of them refreshes it

        async def refresh() -> None:
            ids = await self._refresh()
            shown.clear()
            shown.update(ids)

        def concerns_me(event: dict[str, Any]) -> bool:
            if event.get("incident_id") == incident_id:
                return True
            ids = event.get("ids", [])
            return bool(shown.intersection(ids)) or event.get("count", 0) > len(ids)

        await follow_events(self, refresh, concerns_me)
