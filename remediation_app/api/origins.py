"""Which origins may use a logged-in browser's session (the cookie is SameSite=Strict, and a page on
another port of the same host or on a sibling subdomain is still "same site": it gets the cookie).

- Reflex's event socket (`/_event`, which runs every page's handlers as the logged-in user): only
  from an allowed origin; a handshake without one gets 403.
- Every state-changing HTTP request that carries the session cookie and no bearer token: only from
  an allowed origin. Browsers send `Origin` on every such request (forms, fetch, `no-cors` too), so
  a missing one is refused as well; API clients authenticate with a bearer token and are unaffected.

Allowed: the origin the request is addressed to (Host header), PUBLIC_URL's and ALLOWED_ORIGINS'.
"""

from __future__ import annotations

import json

from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Receive, Scope, Send

from remediation_app.services.auth import SESSION_COOKIE
from remediation_app.services.security import origin_allowed, trusted_origins
from remediation_app.settings import get_settings

EVENT_PATH = "/_event"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
REFUSED = json.dumps({"error": "request from another origin refused"}).encode()


def headers_origin_ok(headers: Headers) -> bool:
    """The request's Origin is allowed (a missing one is not)."""
    trusted = trusted_origins(get_settings())
    return origin_allowed(headers.get("origin"), host=headers.get("host", ""), trusted=trusted)


def _carries_session(headers: Headers) -> bool:
    # With a bearer token the cookie is not what authenticates (and no page elsewhere can add one).
    bearer = headers.get("authorization", "").lower().startswith("bearer ")
    return bool(cookie_parser(headers.get("cookie", "")).get(SESSION_COOKIE)) and not bearer


def _is_event_socket(path: str) -> bool:
    return path == EVENT_PATH or path.startswith(EVENT_PATH + "/")


class OriginGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        path = scope.get("path", "")
        if _is_event_socket(path):
            guarded = True
        else:
            guarded = kind == "http" and scope.get("method", "GET") not in SAFE_METHODS and _carries_session(headers)
        if not guarded or headers_origin_ok(headers):
            await self.app(scope, receive, send)
            return
        if kind == "websocket":
            await receive()  # websocket.connect; closing before accept answers the handshake with 403
            await send({"type": "websocket.close", "code": 4403, "reason": "origin not allowed"})
            return
        await send(
            {
                "type": "http.response.start",
                "status": 403,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(REFUSED)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": REFUSED})
