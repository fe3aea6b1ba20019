"""Mapping domain and infrastructure errors to HTTP answers."""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from fastapi import Request
from fastapi.responses import JSONResponse

from remediation_app.api.schemas import ErrorPublic

log = logging.getLogger(__name__)
RETRY_AFTER_S = "5"
# PostgreSQL's undefined_table and undefined_column: the schema is behind the code (not migrated yet).
SCHEMA_BEHIND_SQLSTATES = frozenset({"42P01", "42703"})


def refusals(descriptions: dict[int, str]) -> dict[int | str, dict[str, Any]]:
    """A route's `responses`: the statuses it answers with `error()`, each with its description."""
    return {status: {"model": ErrorPublic, "description": text} for status, text in descriptions.items()}


def error(status: int, message: str, **extra: Any) -> JSONResponse:
    headers = {"Retry-After": RETRY_AFTER_S} if status == 503 else None
    return JSONResponse({"error": message, **extra}, status_code=status, headers=headers)


def refused_change(exc: Exception, field: str) -> JSONResponse:
    """A service's refusal of a change that names the field at fault: 404 for the id (no such row),
    409 for a name already taken, 422 for another field, 502 for none (a host that did not answer)."""
    status = 404 if field == "id" else 409 if "exists" in str(exc) else 422 if field else 502
    return error(status, str(exc), field=field)


async def database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """Any route: a database that cannot be reached is a transient fault, so 503 (clients retry)."""
    log.warning("database unavailable on %s %s: %s", request.method, request.url.path, type(exc).__name__)
    return error(503, "database unavailable, retry later")


async def schema_not_migrated(request: Request, exc: Exception) -> JSONResponse:
    """A table or column missing on PostgreSQL means "not migrated yet": 503, as SQLite's error already is.

    Any other programming error is a bug and stays a 500.
    """
    orig = exc.orig if isinstance(exc, sa.exc.DBAPIError) else None
    if getattr(orig, "sqlstate", None) not in SCHEMA_BEHIND_SQLSTATES:
        raise exc
    log.warning("database not migrated on %s %s: %s", request.method, request.url.path, orig)
    return error(503, "database not migrated, retry later")
