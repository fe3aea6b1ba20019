"""GET /api/alerts, /api/alerts/{id}, its analyses, and POST /api/alerts/{id}/analyze."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, HTTPException, Path, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from remediation_app.api.deps import CurrentUser, current_user
from remediation_app.api.errors import error
from remediation_app.db import async_session
from remediation_app.models import RuleAction
from remediation_app.services.alerts import (
    MAX_QUERY,
    AlertFilter,
    alert_detail,
    alert_summaries,
    alert_timeline,
    get_alert,
    list_alerts,
)
from remediation_app.services.events import bus
from remediation_app.services.llm.jobs import (
    ANALYSIS_TOPIC,
    JOBS_TOPIC,
    AnalysisRefused,
    analyses_for,
    analysis_public,
    job_public,
    latest_job,
    request_analysis,
)
from remediation_app.services.providers import any_provider

router = APIRouter(prefix="/api/alerts", tags=["alerts"], dependencies=[Depends(current_user)])
AnalysisFilter = Literal["none", "queued", "running", "failed", "cancelled", "done"]
# Ids are INTEGER columns: a larger value cannot be an id, and PostgreSQL refuses it as a parameter.
MAX_ID = 2**31 - 1


@router.get("", summary="List alerts, newest activity first")
async def api_list_alerts(
    status: Literal["firing", "resolved"] | None = None,
    severity: Annotated[str | None, Query(max_length=255)] = None,
    action: RuleAction | None = None,
    q: Annotated[str | None, Query(max_length=MAX_QUERY, description="alertname, instance or summary")] = None,
    analysis: Annotated[
        AnalysisFilter | None, Query(description="the state of the alert's latest analysis job")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> dict[str, Any]:
    flt = AlertFilter(
        status=status or "",
        severity=severity or "",
        action=action.value if action else "",
        q=q or "",
        analysis=analysis or "",
    )
    async with async_session() as session:
        rows, total = await list_alerts(session, flt, limit=limit, offset=offset)
        items = await alert_summaries(session, rows)
    return {"items": items, "total": total}


@router.get("/{alert_id}", summary="One alert with labels, annotations, matched rule and timeline")
async def api_get_alert(alert_id: Annotated[int, Path(ge=1, le=MAX_ID)]) -> dict[str, Any]:
    async with async_session() as session:
        alert = await get_alert(session, alert_id)
        if alert is None:
            raise HTTPException(status_code=404, detail="alert not found")
        timeline = await alert_timeline(session, alert_id)
        job = await latest_job(session, alert_id)
        latest = await analyses_for(session, alert_id, limit=1)
        configured = await any_provider(session)
    return {
        **alert_detail(alert),
        "timeline": timeline,
        "analysis": analysis_public(latest[0]) if latest else None,
        "analysis_job": job_public(job) if job else None,
        "llm_configured": configured,
    }


@router.get("/{alert_id}/analyses", summary="The alert's analyses, newest first")
async def api_alert_analyses(
    alert_id: Annotated[int, Path(ge=1, le=MAX_ID)], limit: Annotated[int, Query(ge=1, le=100)] = 20
) -> dict[str, Any]:
    async with async_session() as session:
        if await get_alert(session, alert_id) is None:
            raise HTTPException(status_code=404, detail="alert not found")
        rows = await analyses_for(session, alert_id, limit=limit)
    return {"items": [analysis_public(a) for a in rows]}


class AnalyzeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider_id: int | None = Field(
        default=None, ge=0, le=MAX_ID, description="a provider's id (0: the environment's); default: the default one"
    )


@router.post(
    "/{alert_id}/analyze",
    status_code=202,
    summary="Queue an analysis now (bypasses the dedup window and the daily budget)",
    responses={
        404: {"description": "No such alert"},
        409: {"description": "No provider configured, or an analysis of this alert is running"},
        422: {"description": "Unknown or disabled provider"},
    },
)
async def api_analyze(
    alert_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    user: CurrentUser,
    body: Annotated[AnalyzeRequest | None, Body()] = None,
) -> Any:
    provider_id = body.provider_id if body else None
    async with async_session() as session:
        try:
            job = await request_analysis(session, alert_id, user=user, provider_id=provider_id)
        except AnalysisRefused as exc:
            return error(exc.status, str(exc))
        await session.commit()
        public = job_public(job)
    await bus.publish(JOBS_TOPIC, queued=1)
    await bus.publish(ANALYSIS_TOPIC, ids=[alert_id], count=1)
    return JSONResponse(public, status_code=202)
