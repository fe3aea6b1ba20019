"""Alertmanager both ways: silences and acks on alerts (any logged-in user: the on-call console), and
the Alertmanager connections (/api/alertmanagers, admins only; the credential write-only, like
datasources').

Alertmanager is asked first: when it is down or refuses, the answer says so (its status and its
words, naming the Alertmanager) and nothing is stored.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from remediation_app.api.connections import ConnectionBody, add_connection_routes
from remediation_app.api.deps import CurrentUser, RowId, SessionDep, client_address
from remediation_app.api.errors import error, refusals
from remediation_app.api.schemas import (
    AlertmanagerPublic,
    AlertmanagerTestPassed,
    DatasourceTestFailed,
    Items,
    MatcherPublic,
    SilenceCovering,
    SilencePublic,
)
from remediation_app.services.alertmanager import acks, connections, silences

router = APIRouter(tags=["alertmanager"])

REFUSALS = refusals(
    {
        400: "Bad matchers, comment or duration, or Alertmanager refused the silence (its message)",
        404: "No such alert or silence",
        409: "No Alertmanager configured; the alert resolved or is acknowledged already",
        502: "Alertmanager answered with an error or something unexpected",
        503: "Alertmanager unreachable, or the database unavailable",
        504: "Alertmanager did not answer in time",
    }
)


class MatcherIn(MatcherPublic):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = Field(max_length=255, examples=["alertname"])
    value: str = Field(max_length=1024, examples=["DiskWillFillSoon"])


class SilenceRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    duration_minutes: int = Field(
        strict=True, ge=1, description="1 minute to SILENCE_MAX_DAYS (30 days by default)", examples=[120]
    )
    comment: str = Field(max_length=silences.COMMENT_MAX, description="why; required", examples=["Disk swap planned"])
    matchers: list[MatcherIn] | None = Field(
        default=None,
        max_length=silences.MATCHERS_MAX,
        description="default: every label of the alert, by equality; at least one must be name=value (not empty)",
    )


async def _silence(work: Awaitable[Any]) -> SilencePublic | JSONResponse:
    """The silence `work` made or expired, or its refusal with its status."""
    try:
        row = await work
    except silences.SilenceRefused as exc:
        return error(exc.status, exc.message)
    return SilencePublic.model_validate(row)


@router.post(
    "/api/alerts/{alert_id}/silence",
    status_code=201,
    response_model=SilencePublic,
    summary="Silence the alert in its Alertmanager (createdBy: you); answers with the silence's id",
    responses=REFUSALS,
)
async def api_silence_alert(
    alert_id: RowId, body: SilenceRequest, user: CurrentUser, request: Request, session: SessionDep
) -> SilencePublic | JSONResponse:
    matchers = None
    if body.matchers is not None:
        matchers = [silences.Matcher(m.name, m.value, m.is_regex, m.is_equal) for m in body.matchers]
    return await _silence(
        silences.silence_alert(
            session,
            alert_id,
            user=user,
            duration_minutes=body.duration_minutes,
            comment=body.comment,
            matchers=matchers,
            address=client_address(request),
        )
    )


@router.post(
    "/api/alerts/{alert_id}/ack",
    status_code=201,
    response_model=SilencePublic,
    summary="Acknowledge the alert: silenced until it resolves (or ACK_MAX_HOURS), who and when recorded",
    responses=REFUSALS,
)
async def api_ack_alert(
    alert_id: RowId, user: CurrentUser, request: Request, session: SessionDep
) -> SilencePublic | JSONResponse:
    return await _silence(acks.ack_alert(session, alert_id, user=user, address=client_address(request)))


@router.get(
    "/api/alerts/{alert_id}/silences",
    response_model=Items[SilenceCovering],
    summary="The active silences covering the alert in its Alertmanager (made here or elsewhere)",
    responses=REFUSALS,
)
async def api_alert_silences(
    alert_id: RowId, _user: CurrentUser, session: SessionDep
) -> Items[SilenceCovering] | JSONResponse:
    try:
        views = await silences.silences_for_alert(session, alert_id)
    except silences.SilenceRefused as exc:
        return error(exc.status, exc.message)
    items = [
        SilenceCovering.model_validate({**vars(view), "matchers": [m.to_api() for m in view.matchers]})
        for view in views
    ]
    return Items[SilenceCovering](items=items)


@router.delete(
    "/api/silences/{silence_id}",
    response_model=SilencePublic,
    summary="Expire a silence by Alertmanager's id (an expired one is answered as it is)",
    responses=REFUSALS,
)
async def api_expire_silence(
    silence_id: Annotated[str, Path(max_length=64)], user: CurrentUser, request: Request, session: SessionDep
) -> SilencePublic | JSONResponse:
    return await _silence(silences.expire_silence(session, silence_id, user=user, address=client_address(request)))


# ---- connections (admins) -------------------------------------------------------------------------


class AlertmanagerBody(ConnectionBody):
    __doc__ = ConnectionBody.__doc__

    url: str = Field(max_length=1024, examples=["http://alertmanager:9093"])
    external_url: str = Field(
        default="",
        max_length=1024,
        description="its --web.external-url when notifications name it differently from `url`",
        examples=["https://alertmanager.example/"],
    )
    is_default: bool = Field(default=False, description="used for alerts no connection matches by externalURL")


add_connection_routes(
    router,
    connections.KIND,
    path="/api/alertmanagers",
    body=AlertmanagerBody,
    public=AlertmanagerPublic,
    test=connections.alertmanager_test,
    passed=AlertmanagerTestPassed,
    failed=DatasourceTestFailed,
    what="Alertmanager connections",
    called="an Alertmanager connection",
    test_finds="Alertmanager's version and cluster status",
)
