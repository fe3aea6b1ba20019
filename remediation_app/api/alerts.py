"""GET /api/alerts and /api/alerts/{id}."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query

from remediation_app.api.deps import current_user
from remediation_app.db import async_session
from remediation_app.models import RuleAction
from remediation_app.services.alerts import (
    MAX_QUERY,
    AlertFilter,
    alert_detail,
    alert_summary,
    alert_timeline,
    get_alert,
    list_alerts,
)

router = APIRouter(prefix="/api/alerts", tags=["alerts"], dependencies=[Depends(current_user)])
# Ids are INTEGER columns: a larger value cannot be an id, and PostgreSQL refuses it as a parameter.
MAX_ID = 2**31 - 1


@router.get("", summary="List alerts, newest activity first")
async def api_list_alerts(
    status: Literal["firing", "resolved"] | None = None,
    severity: Annotated[str | None, Query(max_length=255)] = None,
    action: RuleAction | None = None,
    q: Annotated[str | None, Query(max_length=MAX_QUERY, description="alertname, instance or summary")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> dict[str, Any]:
    flt = AlertFilter(status=status or "", severity=severity or "", action=action.value if action else "", q=q or "")
    async with async_session() as session:
        rows, total = await list_alerts(session, flt, limit=limit, offset=offset)
    return {"items": [alert_summary(a) for a in rows], "total": total}


@router.get("/{alert_id}", summary="One alert with labels, annotations, matched rule and timeline")
async def api_get_alert(alert_id: Annotated[int, Path(ge=1, le=MAX_ID)]) -> dict[str, Any]:
    async with async_session() as session:
        alert = await get_alert(session, alert_id)
        if alert is None:
            raise HTTPException(status_code=404, detail="alert not found")
        timeline = await alert_timeline(session, alert_id)
    return {**alert_detail(alert), "timeline": timeline}
