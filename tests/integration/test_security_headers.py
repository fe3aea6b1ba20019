"""Security headers (api/headers.py) on every answer: the API, /docs, errors, and the pages Reflex
serves when it is mounted under the API (here a stand-in app; the e2e suite checks the real pages)."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from starlette.responses import HTMLResponse
from starlette.types import Receive, Scope, Send

from remediation_app.api import build_api
from tests.conftest import sqlite_only

pytestmark = pytest.mark.anyio


def assert_secure(response: httpx.Response) -> None:
    where = f"{response.request.method} {response.request.url.path} ({response.status_code})"
    headers = response.headers
    assert headers.get("x-content-type-options") == "nosniff", where
    assert headers.get("x-frame-options") == "DENY", where
    csp = headers.get("content-security-policy", "")
    directives = {part.strip().split(" ")[0]: part.strip() for part in csp.split(";") if part.strip()}
    assert directives.get("frame-ancestors") == "frame-ancestors 'none'", where
    assert directives.get("object-src") == "object-src 'none'", where
    assert "'unsafe-eval'" not in csp and "*" not in csp.replace("*.", ""), where
    assert headers.get("referrer-policy") == "same-origin", where
    assert len(headers.get_list("content-security-policy")) == 1, where


@sqlite_only
async def test_api_routes_docs_and_errors_carry_the_headers(client, anon, auth):
    answers = [
        await client.get("/api/alerts"),
        await client.get("/api/alerts/1"),  # 404
        await anon.get("/api/alerts"),  # 401
        await client.get("/api/audit"),
        await client.get("/healthz"),
        await client.get("/readyz"),
        await client.get("/openapi.json"),
        await client.get("/docs"),
        await client.get("/docs/oauth2-redirect"),
        await client.head("/healthz"),
        await client.get("/no/such/route"),  # 404 from the router
        await client.post("/webhook/alerts", content=b"{", headers=auth),  # 400
        await anon.post("/webhook/alerts", json={}),  # 401
        await anon.post("/api/auth/login", data={"username": "x", "password": "y"}),  # 303
        await anon.post("/api/auth/token", data={}),  # 422
    ]
    expected = [200, 404, 401, 200, 200, 200, 200, 200, 200, 405, 404, 400, 401, 303, 422]
    assert [r.status_code for r in answers] == expected
    for r in answers:
        assert_secure(r)
    docs = answers[7]
    # Swagger UI's files come from the app: the page loads nothing from another origin.
    assert docs.headers["content-security-policy"] == answers[0].headers["content-security-policy"]
    assert "https:" not in docs.headers["content-security-policy"]
    assert "cdn.jsdelivr.net" not in docs.text and "fastapi.tiangolo.com" not in docs.text
    for asset in re.findall(r'(?:src|href)="(/docs/assets/[^"]+)"', docs.text):
        served = await client.get(asset)
        assert served.status_code == 200 and len(served.content) > 1000, asset
        assert_secure(served)
    assert len(re.findall(r'"/docs/assets/', docs.text)) == 3  # script, styles, icon
    assert (await client.get("/docs/assets/__init__.py")).status_code == 404
    assert (await client.get("/docs/assets/..%2F__init__.py")).status_code == 404


async def fake_reflex(scope: Scope, receive: Receive, send: Send) -> None:
    """Stands in for the Reflex app mounted under the API: pages, static files, its own 404."""
    path = scope["path"]
    if path in ("/", "/login", "/alerts/1", "/_next/static/app.js"):
        response: Any = HTMLResponse(f"<html><body>{path}</body></html>")
    else:
        response = HTMLResponse("not found", status_code=404)
    await response(scope, receive, send)


async def test_mounted_pages_carry_the_headers():
    app = build_api(fake_reflex)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http:
        for path in ("/", "/login", "/alerts/1", "/_next/static/app.js", "/nothing-here", "/docs", "/healthz"):
            r = await http.get(path)
            assert r.status_code in (200, 303, 404), path  # /docs sends the anonymous to /login
            assert_secure(r)
        page = await http.get("/login")
        assert page.text == "<html><body>/login</body></html>"  # the page itself reached the browser
        assert "cdn.jsdelivr.net" not in page.headers["content-security-policy"]


async def test_a_header_set_by_the_route_is_kept():
    """The middleware adds what is missing and never doubles or overrides a route's own header."""

    async def own_csp(scope: Scope, receive: Receive, send: Send) -> None:
        response = HTMLResponse("x", headers={"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'"})
        await response(scope, receive, send)

    app = build_api(own_csp)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http:
        r = await http.get("/page")
    assert r.headers.get_list("content-security-policy") == ["default-src 'none'; frame-ancestors 'none'"]
    assert r.headers["x-frame-options"] == "DENY"
