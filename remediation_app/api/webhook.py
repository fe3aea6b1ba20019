"""POST /webhook/alerts: the Alertmanager receiver."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from remediation_app.api.errors import error, refusals
from remediation_app.api.schemas import WebhookResult
from remediation_app.services import metrics
from remediation_app.services.alertmanager.payload import NotificationIn
from remediation_app.services.alerts.ingest import receive_notification
from remediation_app.services.app_secrets import WEBHOOK_TOKEN, cached_secret
from remediation_app.services.security import webhook_authorized
from remediation_app.settings import get_settings

log = logging.getLogger(__name__)
router = APIRouter(tags=["webhook"])


# A body larger than this is parsed, validated and turned into rows (rules decided) in worker threads:
# the event loop (every other request, /healthz included) never waits for a large payload. A smaller
# body stays on the loop: its work takes a couple of milliseconds, a hand-off would only add latency.
OFF_LOOP_BODY_BYTES = 64 * 1024


class BodyTooLarge(Exception):
    pass


class BodyNotJson(Exception):
    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def parse_notification(body: bytes) -> NotificationIn:
    """Raises BodyNotJson (400) or ValidationError (422)."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise BodyNotJson(str(exc)[:200]) from exc
    return NotificationIn.model_validate(data)


def _field_errors(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {"field": ".".join(str(p) for p in e["loc"]) or "(body)", "message": e["msg"]}
        for e in exc.errors(include_url=False, include_input=False)[:50]
    ]


@router.post(
    "/webhook/alerts",
    response_model=WebhookResult,
    response_model_exclude_none=True,
    summary="Receive an Alertmanager notification (webhook payload version 4)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/NotificationIn"}}},
        },
        "security": [{"WebhookBearer": []}, {"WebhookBasic": []}],
    },
    response_description="Stored and committed",
    responses=refusals(
        {
            400: "Body is not JSON",
            401: "Missing or wrong webhook credentials",
            413: "Body larger than WEBHOOK_MAX_BODY_BYTES",
            422: "JSON that is not an Alertmanager payload; `fields` names what is wrong",
            503: "Database unavailable: nothing stored, retry",
        }
    ),
)
async def alertmanager_webhook(request: Request) -> WebhookResult | JSONResponse:
    settings = get_settings()
    authorization = request.headers.get("authorization")
    # The environment's credentials first (no database read); then the token an admin stored, as
    # this process last read it (at most once a second).
    env_ok = settings.webhook_auth_configured and webhook_authorized(authorization, settings)
    if not env_ok and not webhook_authorized(authorization, settings, await cached_secret(WEBHOOK_TOKEN)):
        response = error(401, "missing or invalid webhook credentials")
        response.headers["WWW-Authenticate"] = 'Bearer realm="webhook", Basic realm="webhook"'
        return response
    started = time.perf_counter()
    try:
        body = await read_body(request, settings.webhook_max_body_bytes)
    except BodyTooLarge:
        return error(413, f"body larger than {settings.webhook_max_body_bytes} bytes")
    large = len(body) > OFF_LOOP_BODY_BYTES
    try:
        payload = await asyncio.to_thread(parse_notification, body) if large else parse_notification(body)
    except BodyNotJson as exc:
        return error(400, "body is not valid JSON", detail=exc.detail)
    except ValidationError as exc:
        return error(422, "not an Alertmanager webhook payload", fields=_field_errors(exc))
    if not payload.alerts:
        return WebhookResult(received=0, created=0, updated=0)
    # Database errors -> 503 by the app's handler.
    result = await receive_notification(payload, off_loop=large)
    metrics.record_ingest(result.by_action, time.perf_counter() - started)
    return WebhookResult(
        notification_id=result.notification_id,
        received=result.received,
        created=result.created,
        updated=result.updated,
        by_action=result.by_action,
    )
