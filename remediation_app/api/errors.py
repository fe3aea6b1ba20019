"""Mapping domain and infrastructure errors to HTTP answers."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

log = logging.getLogger(__name__)
RETRY_AFTER_S = "5"


def error(status: int, message: str, **extra: Any) -> JSONResponse:
    headers = {"Retry-After": RETRY_AFTER_S} if status == 503 else None
    return JSONResponse({"error": message, **extra}, status_code=status, headers=headers)


async def database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """Any route: a database that cannot be reached is a transient fault, so 503 (clients retry)."""
    log.warning("database unavailable on %s %s: %s", request.method, request.url.path, type(exc).__name__)
    return error(503, "database unavailable, retry later")
