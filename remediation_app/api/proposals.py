"""Approval-gated diagnostics: an alert's proposals, approving or rejecting one, and the policy
(read by any user; saved and dry-run by admins)."""

from __future__ import annotations

from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Body, Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from remediation_app.api.deps import AdminUser, CurrentUser, RowId, SessionDep, client_address, current_user
from remediation_app.api.errors import error, refusals
from remediation_app.api.schemas import Items, PolicyPublic, PolicySaved, PolicyVerdict, ProposalPublic
from remediation_app.services.alerts.store import get_alert
from remediation_app.services.diagnostics import policy_store
from remediation_app.services.diagnostics.check import MAX_COMMAND_CHARS
from remediation_app.services.diagnostics.policy import MAX_DOCUMENT_BYTES, PolicyError
from remediation_app.services.diagnostics.proposals import (
    NOTE_MAX,
    TOPIC,
    ProposalRefused,
    approve,
    proposal_public,
    proposals_for,
    reject,
)
from remediation_app.services.diagnostics.runner import wake_runners
from remediation_app.services.events import bus

router = APIRouter(tags=["diagnostics"], dependencies=[Depends(current_user)])


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, max_length=NOTE_MAX, description="optional; a rejection's goes to the model")


class PolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    document: str = Field(max_length=MAX_DOCUMENT_BYTES, description="the whole policy, YAML")
    version: int | None = Field(
        default=None, ge=0, le=2**31 - 1, description="the version you edited: refused (409) if another is in force"
    )


class DryRunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    server: str = Field(min_length=1, max_length=100, description="a registered server's name")
    command: str = Field(min_length=1, max_length=MAX_COMMAND_CHARS * 2)
    document: str | None = Field(
        default=None, max_length=MAX_DOCUMENT_BYTES, description="a draft policy; default: the one in force"
    )


def _policy_public(current: policy_store.PolicyInForce) -> dict[str, object]:
    return {
        "version": current.version,
        "default": current.is_default,
        "document": current.document,
        "updated_by": current.updated_by,
        "updated_at": current.updated_at,
        "broken": current.broken,
    }


@router.get(
    "/api/alerts/{alert_id}/proposals",
    response_model=Items[ProposalPublic],
    summary="The commands models proposed for the alert, newest first",
    responses={404: {"description": "No such alert"}},
)
async def api_alert_proposals(alert_id: RowId, session: SessionDep) -> Items[ProposalPublic]:
    if await get_alert(session, alert_id) is None:
        raise HTTPException(status_code=404, detail="alert not found")
    rows = await proposals_for(session, alert_id)
    return Items(items=[ProposalPublic.model_validate(proposal_public(row)) for row in rows])


_DECISION_REFUSALS = refusals(
    {
        403: "Your role may not open the proposal's server",
        404: "No such proposal",
        409: "Not pending any more (approved, rejected, refused, expired), the server is gone or its host key not "
        "accepted, or the policy in force now refuses it",
    }
)


async def _decide(
    proposal_id: int, user: CurrentUser, session: SessionDep, request: Request, body: Decision | None, *, ok: bool
) -> ProposalPublic | JSONResponse:
    decide = approve if ok else reject
    try:
        row = await decide(
            session, proposal_id, user=user, note=body.note if body else None, address=client_address(request)
        )
    except ProposalRefused as exc:
        await session.commit()  # the refusal's audit event
        return error(exc.status, str(exc))
    await session.commit()
    await bus.publish(TOPIC, ids=[row.alert_id], count=1)
    if ok:
        await wake_runners()
    return ProposalPublic.model_validate(proposal_public(row))


@router.post(
    "/api/proposals/{proposal_id}/approve",
    response_model=ProposalPublic,
    summary="Approve a pending proposal: it runs once, soon, on its server",
    responses=_DECISION_REFUSALS,
)
async def api_approve(
    proposal_id: RowId,
    user: CurrentUser,
    session: SessionDep,
    request: Request,
    body: Annotated[Decision | None, Body()] = None,
) -> ProposalPublic | JSONResponse:
    return await _decide(proposal_id, user, session, request, body, ok=True)


@router.post(
    "/api/proposals/{proposal_id}/reject",
    response_model=ProposalPublic,
    summary="Reject a pending proposal (the note goes back to the model)",
    responses=_DECISION_REFUSALS,
)
async def api_reject(
    proposal_id: RowId,
    user: CurrentUser,
    session: SessionDep,
    request: Request,
    body: Annotated[Decision | None, Body()] = None,
) -> ProposalPublic | JSONResponse:
    return await _decide(proposal_id, user, session, request, body, ok=False)


@router.get("/api/diagnostics/policy", response_model=PolicyPublic, summary="The diagnostics policy in force")
async def api_get_policy(session: SessionDep) -> PolicyPublic:
    return PolicyPublic.model_validate(_policy_public(await policy_store.current(session)))


@router.put(
    "/api/diagnostics/policy",
    response_model=PolicySaved,
    summary="Replace the diagnostics policy (admins; audited, widenings named)",
    responses={
        **refusals({409: "Another version is in force than the one edited", 422: "Not a valid policy (`errors`)"}),
        403: {"description": "Not an admin"},
    },
)
async def api_put_policy(
    body: PolicyIn, admin: AdminUser, session: SessionDep, request: Request
) -> PolicySaved | JSONResponse:
    try:
        saved = await policy_store.save_policy(
            session, body.document, actor=admin, address=client_address(request), expected_version=body.version
        )
        await session.commit()
    except PolicyError as exc:
        return error(422, str(exc), errors=exc.errors)
    except policy_store.PolicyConflict as exc:
        return error(409, str(exc))
    except sa.exc.IntegrityError:
        return error(409, "the policy was changed meanwhile; load it again")
    return PolicySaved.model_validate({**_policy_public(saved.current), "widened": saved.widened})


@router.post(
    "/api/diagnostics/policy/dry-run",
    response_model=PolicyVerdict,
    summary="The verdict on a command for a server, under the policy in force or a draft (admins)",
    responses={**refusals({422: "The draft is not a valid policy (`errors`)"}), 403: {"description": "Not an admin"}},
)
async def api_dry_run(body: DryRunIn, admin: AdminUser, session: SessionDep) -> PolicyVerdict | JSONResponse:
    try:
        verdict = await policy_store.dry_run(session, server=body.server, command=body.command, document=body.document)
    except PolicyError as exc:
        return error(422, str(exc), errors=exc.errors)
    return PolicyVerdict(
        allowed=verdict.allowed,
        reason=verdict.reason,
        group=verdict.group,
        command=verdict.command,
        argv=[list(stage) for stage in verdict.stages],
    )
