"""Liveness and readiness."""

from __future__ import annotations

import asyncio
import functools

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from remediation_app.api.schemas import NotReady, Ready, StatusPublic
from remediation_app.db import async_engine
from remediation_app.services.migrations import current_revision, head_revision

router = APIRouter(tags=["health"])


@functools.cache
def _head() -> str | None:
    return head_revision()


@router.get("/healthz", response_model=StatusPublic, summary="The process is up")
async def healthz() -> StatusPublic:
    return StatusPublic(status="ok")


@router.get(
    "/readyz",
    response_model=Ready,
    summary="Database reachable and migrated to head",
    responses={503: {"model": NotReady, "description": "Not ready"}},
)
async def readyz() -> Ready | JSONResponse:
    head = _head()
    try:
        async with asyncio.timeout(5):
            async with async_engine().connect() as conn:
                current = await conn.run_sync(current_revision)
    except Exception as exc:  # readiness must answer, whatever the fault
        return JSONResponse({"status": "unavailable", "database": f"unreachable: {type(exc).__name__}"}, 503)
    if current != head:
        return JSONResponse(
            {"status": "unavailable", "database": "not migrated", "revision": current, "head": head}, 503
        )
    return Ready(status="ok", revision=current)
