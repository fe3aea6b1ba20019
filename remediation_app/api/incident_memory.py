"""Incident memory (any logged-in user): an alert's outcome (POST records or changes it, GET reads it),
what its form would be prefilled with, the past incidents like it, and the reliability figures.

The outcome's body is read with a bound (OUTCOME_BODY_MAX) before it is parsed: a huge body is a 413,
never held in memory whole.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from remediation_app.api.deps import CurrentUser, RowId, SessionDep, client_address, current_user
from remediation_app.api.errors import error, refusals
from remediation_app.api.schemas import (
    OutcomePrefill,
    OutcomePublic,
    ReliabilityPublic,
    SimilarIncidentPublic,
    SimilarIncidents,
)
from remediation_app.api.webhook import BodyTooLarge, read_body
from remediation_app.services.alerts.store import get_alert
from remediation_app.services.memory import outcomes, reliability, similarity
from remediation_app.services.memory.outcomes import (
    COMMAND_MAX,
    COMMANDS_MAX,
    TAG_MAX,
    TAGS_MAX,
    TEXT_MAX,
    OutcomeRefused,
)

router = APIRouter(tags=["memory"], dependencies=[Depends(current_user)])
OUTCOME_BODY_MAX = 1024 * 1024
NOT_FOUND = {404: "No such alert (or, for GET, no outcome recorded for it)"}


class OutcomeRequest(BaseModel):
    """An alert's outcome. Sent again, it replaces the recorded one (an edit: audited, the fix judged
    again when the fix or its commands changed)."""

    model_config = ConfigDict(extra="forbid")

    verdict: Literal["right", "partly", "wrong"] = Field(description="was the analysis right")
    root_cause: str = Field(default="", max_length=TEXT_MAX, description="the actual root cause")
    fix: str = Field(default="", max_length=TEXT_MAX, description="what fixed it")
    commands: list[Annotated[str, Field(max_length=COMMAND_MAX)]] = Field(
        default_factory=list, max_length=COMMANDS_MAX, description="the fix's commands, one line each"
    )
    tags: list[Annotated[str, Field(max_length=TAG_MAX)]] = Field(
        default_factory=list, max_length=TAGS_MAX, description="free tags (lower case; spaces become dashes)"
    )


def _fields(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {"field": ".".join(str(p) for p in e["loc"]) or "(body)", "message": e["msg"]}
        for e in exc.errors(include_url=False, include_input=False)[:20]
    ]


@router.post(
    "/api/alerts/{alert_id}/outcome",
    status_code=201,
    response_model=OutcomePublic,
    summary="Record the alert's outcome (201), or change it (200): verdict, root cause, fix, commands, tags",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": OutcomeRequest.model_json_schema()}},
        }
    },
    responses={
        200: {"model": OutcomePublic, "description": "Changed (or the same outcome again: nothing changed)"},
        **refusals(
            {
                400: "Body is not JSON",
                404: "No such alert",
                413: f"Body larger than {OUTCOME_BODY_MAX} bytes",
                422: "A field that cannot be recorded; `field` or `fields` names it",
            }
        ),
    },
)
async def api_record_outcome(
    alert_id: RowId, request: Request, response: Response, user: CurrentUser, session: SessionDep
) -> OutcomePublic | JSONResponse:
    try:
        body = await read_body(request, OUTCOME_BODY_MAX)
    except BodyTooLarge:
        return error(413, f"body larger than {OUTCOME_BODY_MAX} bytes")
    try:
        parsed = OutcomeRequest.model_validate_json(body)
    except ValidationError as exc:
        if any(e["type"] == "json_invalid" for e in exc.errors()):
            return error(400, "the body is not JSON")
        return error(422, "the outcome cannot be recorded", fields=_fields(exc))
    try:
        data = outcomes.checked_input(**parsed.model_dump())
        row, created = await outcomes.record_outcome(
            session, alert_id, data, user=user, address=client_address(request)
        )
    except OutcomeRefused as exc:
        return error(exc.status, exc.message, field=exc.field)
    if not created:
        response.status_code = 200
    return OutcomePublic.model_validate(outcomes.outcome_public(row))


@router.get(
    "/api/alerts/{alert_id}/outcome",
    response_model=OutcomePublic,
    summary="The alert's recorded outcome, with the engine's verdict on its fix",
    responses=refusals(NOT_FOUND),
)
async def api_get_outcome(alert_id: RowId, session: SessionDep) -> OutcomePublic | JSONResponse:
    if await get_alert(session, alert_id) is None:
        return error(404, "alert not found", field="alert_id")
    row = await outcomes.get_outcome(session, alert_id)
    if row is None:
        return error(404, "no outcome recorded for this alert", field="outcome")
    return OutcomePublic.model_validate(outcomes.outcome_public(row))


@router.get(
    "/api/alerts/{alert_id}/outcome/prefill",
    response_model=OutcomePrefill,
    summary="What the outcome form is prefilled with: terminal commands, approved diagnostics, silences",
    responses=refusals({404: "No such alert"}),
)
async def api_outcome_prefill(alert_id: RowId, user: CurrentUser, session: SessionDep) -> OutcomePrefill | JSONResponse:
    if await get_alert(session, alert_id) is None:
        return error(404, "alert not found", field="alert_id")
    return OutcomePrefill.model_validate(await outcomes.suggestion(alert_id, user))


@router.get(
    "/api/alerts/{alert_id}/similar",
    response_model=SimilarIncidents,
    summary="Past incidents like the alert, with their outcomes and fix verdicts, best first",
    responses=refusals({404: "No such alert"}),
)
async def api_similar(
    alert_id: RowId, session: SessionDep, limit: Annotated[int, Query(ge=1, le=50)] = similarity.SHOWN
) -> SimilarIncidents | JSONResponse:
    alert = await get_alert(session, alert_id)
    if alert is None:
        return error(404, "alert not found", field="alert_id")
    found = await similarity.similar_incidents(session, alert, limit=limit)
    seen = await similarity.seen_before(session, alert)
    items = [SimilarIncidentPublic.model_validate(similarity.similar_public(item)) for item in found]
    return SimilarIncidents.model_validate({**similarity.headline(seen, found), "items": items})


@router.get(
    "/api/reliability",
    response_model=ReliabilityPublic,
    summary="How often analyses were judged right and fixes held: in all, per rule, alertname and provider",
)
async def api_reliability(session: SessionDep) -> ReliabilityPublic:
    return ReliabilityPublic.model_validate(await reliability.reliability(session))
