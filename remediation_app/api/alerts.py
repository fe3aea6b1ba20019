"""GET /api/alerts, /api/alerts/{id}, its analyses, and POST /api/alerts/{id}/analyze."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Depends, HTTPException, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.api.deps import MAX_ID, CurrentUser, RowId, SessionDep, current_user
from remediation_app.api.errors import error, refusals
from remediation_app.api.schemas import (
    AlertDetail,
    AlertSummary,
    AnalysisPublic,
    EvidencePublic,
    Items,
    JobPublic,
    Page,
)
from remediation_app.models import Analysis, RuleAction
from remediation_app.services.alerts.filters import (
    ACTIVITY_ORDER,
    MAX_MATCHER_TEXT,
    MAX_MATCHERS,
    MatcherError,
    parse_matchers,
    valid_sort,
)
from remediation_app.services.alerts.store import (
    MAX_QUERY,
    AlertFilter,
    alert_detail,
    alert_summaries,
    alert_timeline,
    get_alert,
    list_alerts,
)
from remediation_app.services.events import bus
from remediation_app.services.investigation.store import evidence_for
from remediation_app.services.llm.jobs import (
    ANALYSIS_TOPIC,
    JOBS_TOPIC,
    AnalysisRefused,
    analyses_for,
    latest_job,
    request_analysis,
)
from remediation_app.services.llm.providers import any_provider

router = APIRouter(prefix="/api/alerts", tags=["alerts"], dependencies=[Depends(current_user)])
AnalysisFilter = Literal["none", "queued", "running", "failed", "cancelled", "done"]


@router.get(
    "",
    response_model=Page[AlertSummary],
    summary="List alerts, newest activity first",
    responses=refusals({422: "A sort key or label filter that cannot be applied"}),
)
async def api_list_alerts(
    session: SessionDep,
    status: Literal["firing", "resolved"] | None = None,
    severity: Annotated[str | None, Query(max_length=255)] = None,
    action: RuleAction | None = None,
    q: Annotated[str | None, Query(max_length=MAX_QUERY, description="alertname, instance or summary")] = None,
    analysis: Annotated[
        AnalysisFilter | None, Query(description="the state of the alert's latest analysis job")
    ] = None,
    label: Annotated[
        list[str],
        Query(max_length=MAX_MATCHERS, description="label matchers: team=storage, team!=x, team=~re, team!~re"),
    ] = [],  # noqa: B006 (FastAPI copies the default)
    sort: Annotated[
        str, Query(max_length=20, description="'' the board's order, or a column (severity, age...), '-' descending")
    ] = ACTIVITY_ORDER,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Page[AlertSummary] | JSONResponse:
    if not valid_sort(sort):
        return error(422, f"unknown sort key {sort!r}", field="sort")
    if any(len(text) > MAX_MATCHERS * MAX_MATCHER_TEXT for text in label):
        return error(422, "label filter too long", field="label")
    try:
        flt = AlertFilter(
            status=status or "",
            severity=severity or "",
            action=action.value if action else "",
            q=q or "",
            analysis=analysis or "",
            labels=parse_matchers(label),
        )
        rows, total = await list_alerts(session, flt, sort=sort, limit=limit, offset=offset)
    except MatcherError as exc:
        return error(422, str(exc), field="label")
    items = await alert_summaries(session, rows)
    return Page(items=[AlertSummary.model_validate(item) for item in items], total=total)


@router.get(
    "/{alert_id}",
    response_model=AlertDetail,
    summary="One alert with labels, annotations, matched rule and timeline",
    responses={404: {"description": "No such alert"}},
)
async def api_get_alert(alert_id: RowId, session: SessionDep) -> AlertDetail:
    alert = await get_alert(session, alert_id)
    if alert is None:
        raise HTTPException(status_code=404, detail="alert not found")
    latest = await analyses_for(session, alert_id, limit=1)
    return AlertDetail.model_validate(
        {
            **alert_detail(alert),
            "timeline": await alert_timeline(session, alert_id),
            "analysis": (await _with_evidence(session, latest))[0] if latest else None,
            "analysis_job": await latest_job(session, alert_id),
            "llm_configured": await any_provider(session),
        }
    )


@router.get(
    "/{alert_id}/analyses",
    response_model=Items[AnalysisPublic],
    summary="The alert's analyses, newest first",
    responses={404: {"description": "No such alert"}},
)
async def api_alert_analyses(
    alert_id: RowId,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Items[AnalysisPublic]:
    if await get_alert(session, alert_id) is None:
        raise HTTPException(status_code=404, detail="alert not found")
    rows = await analyses_for(session, alert_id, limit=limit)
    return Items(items=await _with_evidence(session, rows))


async def _with_evidence(session: AsyncSession, rows: list[Analysis]) -> list[AnalysisPublic]:
    found = await evidence_for(session, [row.id for row in rows if row.id is not None])
    shown = []
    for row in rows:
        public = AnalysisPublic.model_validate(row)
        public.evidence = [EvidencePublic.model_validate(item) for item in found.get(row.id or 0, [])]
        shown.append(public)
    return shown


class AnalyzeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider_id: int | None = Field(
        default=None, ge=0, le=MAX_ID, description="a provider's id (0: the environment's); default: the default one"
    )


@router.post(
    "/{alert_id}/analyze",
    status_code=202,
    response_model=JobPublic,
    summary="Queue an analysis now (bypasses the dedup window and the daily budget)",
    responses={
        **refusals({404: "No such alert", 409: "No provider configured, or an analysis of this alert is running"}),
        422: {"description": "Unknown or disabled provider (`error`), or a malformed request (`detail`)"},
    },
)
async def api_analyze(
    alert_id: RowId,
    user: CurrentUser,
    session: SessionDep,
    body: Annotated[AnalyzeRequest | None, Body()] = None,
) -> JobPublic | JSONResponse:
    provider_id = body.provider_id if body else None
    try:
        job = await request_analysis(session, alert_id, user=user, provider_id=provider_id)
    except AnalysisRefused as exc:
        return error(exc.status, str(exc))
    await session.commit()
    await bus.publish(JOBS_TOPIC, queued=1)
    await bus.publish(ANALYSIS_TOPIC, ids=[alert_id], count=1)
    return JobPublic.model_validate(job)
