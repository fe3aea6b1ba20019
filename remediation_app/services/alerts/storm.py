"""Storm control: a group that brings many alerts at once is analysed once, not once per alert.

When one notification brings more than STORM_THRESHOLD new firing auto_analyze alerts to an incident,
or the incident's count of such alerts received within ANALYSIS_DEDUP_MINUTES passes it, the incident
is marked `storm`: one analysis job with `incident_id` is queued for a representative alert (the most
severe, then the earliest) and the worker gives the model every alert of the incident as data
(services/llm/incident_prompt.py). The alerts get no jobs of their own, nor do alerts that join a
storm incident later; queued single-alert jobs of the incident are cancelled. What was not sent to the
model is counted (`remediation_storm_calls_saved_total`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.models import Alert, AlertStatus, RuleAction
from remediation_app.services.alerts.incidents import IncidentRef, mark_storm, severity_rank
from remediation_app.services.llm import jobs
from remediation_app.settings import get_settings

# (alert_id, fingerprint, rule name): what ingest asks to analyse (jobs.enqueue_automatic's shape)
Wanted = tuple[int, str, str]


@dataclass
class Queued:
    """What ingest queued: alerts analysed on their own, and for a storm the group job."""

    alert_ids: list[int] = field(default_factory=list)
    incident_job: int | None = None  # the representative alert of a group job queued now
    storm: bool = False
    saved: int = 0  # analyses not run because the group's covers them

    @property
    def queued(self) -> int:
        return len(self.alert_ids) + (self.incident_job is not None)


async def _recent_in_incident(session: AsyncSession, incident_id: int, now: datetime) -> int:
    """New firing auto_analyze alerts the incident received within the dedup window (these included)."""
    since = now - timedelta(minutes=get_settings().analysis_dedup_minutes)
    found = await session.exec(
        select(func.count())
        .select_from(Alert)
        .where(
            col(Alert.incident_id) == incident_id,
            col(Alert.action) == RuleAction.AUTO_ANALYZE.value,
            col(Alert.status) == AlertStatus.FIRING.value,
            col(Alert.first_received_at) >= since,
        )
    )
    return int(found.one())


async def queue_analyses(
    session: AsyncSession,
    incident: IncidentRef | None,
    wanted: list[Wanted],
    order: dict[int, tuple[str, datetime]],
    now: datetime,
) -> Queued:
    """Queue the analyses ingest wants (new firing auto_analyze alerts), one per alert or one for the
    incident; in the caller's transaction, which holds the incident's lock. `order`: each wanted
    alert's severity and start, to pick the representative."""
    threshold = get_settings().storm_threshold
    if not wanted:
        return Queued()
    if incident is None or not threshold:
        return Queued(alert_ids=await jobs.enqueue_automatic(session, wanted))
    storm = incident.storm
    if not storm:
        storm = len(wanted) > threshold or await _recent_in_incident(session, incident.id, now) > threshold
        if not storm:
            return Queued(alert_ids=await jobs.enqueue_automatic(session, wanted))
        await mark_storm(session, incident.id)
    result = Queued(storm=True)
    # Those a rule would have analysed on their own (not analysed recently): each one is a call saved,
    # but the one the group job runs for.
    fresh = await jobs.fresh_alerts(session, wanted)
    result.saved = len(fresh)
    if not incident.storm:
        result.saved += await jobs.cancel_for_incident(session, incident.id)
    if fresh and await jobs.incident_job_wanted(session, incident.id):

        def most_severe_then_earliest(alert: Wanted) -> tuple[int, datetime, int]:
            severity, starts_at = order[alert[0]]
            return (-severity_rank(severity), starts_at, alert[0])

        representative = min(fresh, key=most_severe_then_earliest)
        if await jobs.enqueue_incident(session, incident.id, representative):
            result.incident_job = representative[0]
            result.saved -= 1
    return result
