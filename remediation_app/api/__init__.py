"""The FastAPI app that carries our routes, with Reflex mounted underneath (api_transformer)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI
from starlette.types import ASGIApp

from remediation_app.api import (
    alertmanager,
    alerts,
    audit,
    auth,
    datasources,
    docs,
    evals,
    health,
    incident_memory,
    incidents,
    metrics,
    notify,
    proposals,
    providers,
    terminal,
    webhook,
)
from remediation_app.api.errors import database_unavailable, schema_not_migrated
from remediation_app.api.headers import SecurityHeaders
from remediation_app.api.memory import ReleaseMemoryAfterLargeRequests
from remediation_app.api.origins import OriginGuard
from remediation_app.db import TRANSIENT_DB_ERRORS
from remediation_app.services.alertmanager.payload import NotificationIn

DESCRIPTION = (
    "Alertmanager webhook, alert and audit API, login and health endpoints of Remediation Engine. "
    "API clients get a bearer token from POST /api/auth/token."
)


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        from fastapi.openapi.utils import get_openapi

        schema = get_openapi(title=app.title, version=app.version, description=DESCRIPTION, routes=app.routes)
        components = schema.setdefault("components", {})
        payload = NotificationIn.model_json_schema(by_alias=True, ref_template="#/components/schemas/{model}")
        components.setdefault("schemas", {}).update(payload.pop("$defs", {}))
        components["schemas"]["NotificationIn"] = payload
        components.setdefault("securitySchemes", {}).update(
            {
                "WebhookBearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "WEBHOOK_TOKEN, or the token an admin stored",
                },
                "WebhookBasic": {"type": "http", "scheme": "basic", "description": "WEBHOOK_USERNAME/PASSWORD"},
            }
        )
        app.openapi_schema = schema
    return app.openapi_schema


def build_api(reflex_asgi: ASGIApp | None = None) -> FastAPI:
    """A fresh app per call: Reflex may build its ASGI app more than once in a process."""
    # The docs and the schema are served by api/docs.py, behind the login.
    app = FastAPI(title="Remediation Engine", version="0.1.0", docs_url=None, redoc_url=None, openapi_url=None)
    for router in (
        webhook.router,
        auth.router,
        alerts.router,
        alertmanager.router,
        incidents.router,
        incident_memory.router,
        proposals.router,
        providers.router,
        datasources.router,
        notify.router,
        evals.router,
        terminal.router,
        audit.router,
        health.router,
        metrics.router,
        docs.router,
    ):
        app.include_router(router)
    for exc_type in TRANSIENT_DB_ERRORS:
        app.add_exception_handler(exc_type, database_unavailable)
    app.add_exception_handler(sa.exc.ProgrammingError, schema_not_migrated)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    app.add_middleware(metrics.WebhookMetrics)  # every webhook answer by status, 4xx and 503 included
    app.add_middleware(ReleaseMemoryAfterLargeRequests)  # after large bodies: close idle DB connections, malloc_trim
    app.add_middleware(OriginGuard)  # inside SecurityHeaders: its refusals carry them too
    app.add_middleware(SecurityHeaders)
    if reflex_asgi is not None:
        app.mount("", reflex_asgi)
    return app
