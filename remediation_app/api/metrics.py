"""GET /metrics (Prometheus text format) and the middleware that counts every webhook answer."""

from __future__ import annotations

import asyncio
import hmac

from fastapi import APIRouter, Request, Response
from starlette.types import Message, Receive, Scope, Send

from remediation_app.api.errors import error
from remediation_app.api.middleware import HttpMiddleware
from remediation_app.services import metrics
from remediation_app.settings import get_settings

router = APIRouter(tags=["metrics"])
WEBHOOK_PATH = "/webhook/alerts"


def _authorized(authorization: str | None) -> bool:
    token = get_settings().metrics_token
    if token is None:
        return True
    scheme, _, credentials = (authorization or "").partition(" ")
    expected = token.get_secret_value().encode()
    return scheme.lower() == "bearer" and hmac.compare_digest(credentials.strip().encode(), expected)


@router.get(
    "/metrics",
    summary="Prometheus metrics of the engine (text format); bearer METRICS_TOKEN when it is set",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}, 401: {"description": "METRICS_TOKEN set, wrong or missing"}},
)
async def prometheus_metrics(request: Request) -> Response:
    if not _authorized(request.headers.get("authorization")):
        response = error(401, "missing or invalid metrics token")
        response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    # Reads the metric files of every worker and queries the database: off the event loop.
    body = await asyncio.to_thread(metrics.render)
    return Response(body, media_type=metrics.CONTENT_TYPE, headers={"Cache-Control": "no-store"})


class WebhookMetrics(HttpMiddleware):
    """Counts every answer of the webhook by status, including those that never reach the handler's
    happy path (401, 413, 422, the 503 of the database handler, and a 500 from an unexpected error)."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("path") != WEBHOOK_PATH:
            await self.app(scope, receive, send)
            return
        status: list[int] = []

        async def send_and_count(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(int(message["status"]))
            await send(message)

        try:
            await self.app(scope, receive, send_and_count)
        except Exception:  # the server answers 500 (a cancelled request answered nothing: not counted)
            metrics.record_webhook_request(status[0] if status else 500)
            raise
        metrics.record_webhook_request(status[0] if status else 500)
