"""GET /api/audit (admins)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from remediation_app.api.deps import AdminUser
from remediation_app.db import async_session
from remediation_app.services.audit import AuditFilter, event_public, list_events

router = APIRouter(prefix="/api/audit", tags=["audit"])


@router.get("", summary="The audit log, newest first (admins only)")
async def api_audit(
    _admin: AdminUser,
    actor: Annotated[str | None, Query(max_length=150)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> dict[str, Any]:
    flt = AuditFilter(actor=actor or "", action=action or "", since=since, until=until)
    async with async_session() as session:
        rows, total = await list_events(session, flt, limit=limit, offset=offset)
    return {"items": [event_public(e) for e in rows], "total": total}
