"""GET /api/incidents and /api/incidents/{id}: the alerts Alertmanager grouped together (groupKey),
with their timeline and the group's analysis (storm control)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query

from remediation_app.api.deps import RowId, SessionDep, current_user
from remediation_app.api.schemas import (
    AlertSummary,
    AnalysisPublic,
    EvidencePublic,
    IncidentDetail,
    IncidentSummary,
    IncidentTimelineItem,
    JobPublic,
    Page,
)
from remediation_app.services.alerts.incidents import (
    get_incident,
    incident_alerts,
    incident_summaries,
    list_incidents,
)
from remediation_app.services.alerts.store import alert_summaries
from remediation_app.services.alerts.timeline import incident_timeline
from remediation_app.services.investigation.store import evidence_for
from remediation_app.services.llm.jobs import incident_analysis, incident_latest_job

router = APIRouter(prefix="/api/incidents", tags=["incidents"], dependencies=[Depends(current_user)])


@router.get("", response_model=Page[IncidentSummary], summary="List incidents, most recently notified first")
async def api_list_incidents(
    session: SessionDep,
    status: Literal["open", "resolved"] | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Page[IncidentSummary]:
    rows, total = await list_incidents(session, status=status or "", limit=limit, offset=offset)
    items = await incident_summaries(session, rows)
    return Page(items=[IncidentSummary.model_validate(item) for item in items], total=total)


@router.get(
    "/{incident_id}",
    response_model=IncidentDetail,
    summary="One incident with its alerts, timeline and group analysis",
    responses={404: {"description": "No such incident"}},
)
async def api_get_incident(incident_id: RowId, session: SessionDep) -> IncidentDetail:
    incident = await get_incident(session, incident_id)
    if incident is None:
        raise HTTPException(status_code=404, detail="incident not found")
    [summary] = await incident_summaries(session, [incident])
    alerts = await alert_summaries(session, await incident_alerts(session, incident_id, listed=True))
    timeline = await incident_timeline(session, incident)
    group_analysis = None
    if (analysis := await incident_analysis(session, incident_id)) is not None:
        group_analysis = AnalysisPublic.model_validate(analysis)
        found = await evidence_for(session, [analysis.id] if analysis.id is not None else [])
        group_analysis.evidence = [EvidencePublic.model_validate(item) for item in found.get(analysis.id or 0, [])]
    job = await incident_latest_job(session, incident_id)
    return IncidentDetail.model_validate(
        {
            **summary,
            "alerts": [AlertSummary.model_validate(a) for a in alerts],
            "alerts_not_shown": max(0, incident.alert_count - len(alerts)),
            "timeline": [IncidentTimelineItem.model_validate(item.public()) for item in timeline.items],
            "timeline_truncated": timeline.truncated,
            "group_analysis": group_analysis,
            "group_job": JobPublic.model_validate(job) if job is not None else None,
        }
    )
