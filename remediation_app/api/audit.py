"""GET /api/audit (admins)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from remediation_app.api.deps import AdminUser, SessionDep
from remediation_app.api.schemas import AuditEventPublic, Page
from remediation_app.services.audit import AuditFilter, list_events

router = APIRouter(prefix="/api/audit", tags=["audit"])


@router.get("", response_model=Page[AuditEventPublic], summary="The audit log, newest first (admins only)")
async def api_audit(
    _admin: AdminUser,
    session: SessionDep,
    actor: Annotated[str | None, Query(max_length=150)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Page[AuditEventPublic]:
    flt = AuditFilter(actor=actor or "", action=action or "", since=since, until=until)
    rows, total = await list_events(session, flt, limit=limit, offset=offset)
    return Page(items=[AuditEventPublic.model_validate(e) for e in rows], total=total)
