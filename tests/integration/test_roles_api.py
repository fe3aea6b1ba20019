"""Who may call what: every route of the FastAPI app against every kind of caller, on SQLite and
PostgreSQL. The routes are read from the app itself, so a new route without an entry here fails."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.routing import iter_route_contexts
from sqlmodel import col, select

from remediation_app.db import async_session
from remediation_app.models import User
from remediation_app.services.tokens import issue_token
from tests.conftest import add_user, sqlite_only

pytestmark = pytest.mark.anyio

OPEN, LOGIN, ADMIN, OWN = "open", "any logged-in user", "admins only", "own credentials"
# Every (method, path) of the app and who may call it. OWN: the route checks its own credentials
# (a password, or the webhook's token), and a user's login makes no difference to it.
ACCESS: dict[tuple[str, str], str] = {
    ("GET", "/openapi.json"): LOGIN,
    ("GET", "/docs"): LOGIN,
    ("GET", "/docs/oauth2-redirect"): OPEN,
    ("GET", "/docs/assets/{name}"): OPEN,  # Swagger UI's own script, styles and icon
    ("GET", "/healthz"): OPEN,
    ("GET", "/readyz"): OPEN,
    ("GET", "/metrics"): OPEN,  # unless METRICS_TOKEN is set
    ("POST", "/webhook/alerts"): OWN,
    ("POST", "/api/auth/token"): OWN,
    ("POST", "/api/auth/login"): OWN,
    ("POST", "/api/auth/logout"): LOGIN,
    ("GET", "/api/auth/me"): LOGIN,
    ("POST", "/api/auth/password"): LOGIN,  # needs the current password as well
    ("POST", "/api/auth/password/form"): LOGIN,
    ("GET", "/api/alerts"): LOGIN,
    ("GET", "/api/alerts/{alert_id}"): LOGIN,
    ("GET", "/api/alerts/{alert_id}/analyses"): LOGIN,
    ("POST", "/api/alerts/{alert_id}/analyze"): LOGIN,
    ("GET", "/api/incidents"): LOGIN,
    # On call: any user silences, acks and expires (the console); connections are the admins'.
    ("POST", "/api/alerts/{alert_id}/silence"): LOGIN,
    ("POST", "/api/alerts/{alert_id}/ack"): LOGIN,
    ("GET", "/api/alerts/{alert_id}/silences"): LOGIN,
    ("DELETE", "/api/silences/{silence_id}"): LOGIN,
    ("GET", "/api/alertmanagers"): ADMIN,
    ("POST", "/api/alertmanagers"): ADMIN,
    ("PUT", "/api/alertmanagers/{alertmanager_id}"): ADMIN,
    ("DELETE", "/api/alertmanagers/{alertmanager_id}"): ADMIN,
    ("POST", "/api/alertmanagers/{alertmanager_id}/test"): ADMIN,
    # Diagnostics: approving also needs the server's role (checked by the service, tested there).
    ("GET", "/api/alerts/{alert_id}/proposals"): LOGIN,
    ("POST", "/api/proposals/{proposal_id}/approve"): LOGIN,
    ("POST", "/api/proposals/{proposal_id}/reject"): LOGIN,
    ("GET", "/api/diagnostics/policy"): LOGIN,
    ("PUT", "/api/diagnostics/policy"): ADMIN,
    ("POST", "/api/diagnostics/policy/dry-run"): ADMIN,
    # Outcomes and memory.
    ("GET", "/api/alerts/{alert_id}/outcome"): LOGIN,
    ("POST", "/api/alerts/{alert_id}/outcome"): LOGIN,
    ("GET", "/api/alerts/{alert_id}/outcome/prefill"): LOGIN,
    ("GET", "/api/alerts/{alert_id}/similar"): LOGIN,
    ("GET", "/api/reliability"): LOGIN,
    # Notifications and evaluations: admins only.
    ("GET", "/api/notify/routes"): ADMIN,
    ("POST", "/api/notify/routes"): ADMIN,
    ("PUT", "/api/notify/routes/{route_id}"): ADMIN,
    ("DELETE", "/api/notify/routes/{route_id}"): ADMIN,
    ("POST", "/api/notify/routes/{route_id}/test"): ADMIN,
    ("GET", "/api/notify/deliveries"): ADMIN,
    ("POST", "/api/notify/deliveries/{delivery_id}/retry"): ADMIN,
    ("GET", "/api/evals/runs"): ADMIN,
    ("GET", "/api/evals/runs/{run_id}"): ADMIN,
    ("GET", "/api/evals/runs/{run_id}/report"): ADMIN,
    ("GET", "/api/evals/compare"): ADMIN,
    ("GET", "/api/incidents/{incident_id}"): LOGIN,
    ("GET", "/api/providers"): LOGIN,
    ("POST", "/api/providers"): ADMIN,
    ("PUT", "/api/providers/{provider_id}"): ADMIN,
    ("DELETE", "/api/providers/{provider_id}"): ADMIN,
    ("POST", "/api/providers/{provider_id}/test"): ADMIN,
    ("GET", "/api/datasources"): ADMIN,
    ("POST", "/api/datasources"): ADMIN,
    ("PUT", "/api/datasources/{datasource_id}"): ADMIN,
    ("DELETE", "/api/datasources/{datasource_id}"): ADMIN,
    ("POST", "/api/datasources/{datasource_id}/test"): ADMIN,
    ("GET", "/api/costs"): LOGIN,
    ("GET", "/api/ssh-servers"): LOGIN,
    ("POST", "/api/ssh-servers"): ADMIN,
    ("PUT", "/api/ssh-servers/{server_id}"): ADMIN,
    ("DELETE", "/api/ssh-servers/{server_id}"): ADMIN,
    ("POST", "/api/ssh-servers/{server_id}/host-key"): ADMIN,
    ("POST", "/api/ssh-servers/{server_id}/host-key/accept"): ADMIN,
    ("POST", "/api/terminal/tickets"): LOGIN,
    ("GET", "/api/terminal/sessions"): ADMIN,
    ("GET", "/api/terminal/sessions/{session_id}/recording"): ADMIN,
    ("GET", "/api/audit"): ADMIN,
}
CALLERS = ["anonymous", "user", "admin", "deactivated user", "revoked token", "garbage token"]


def app_routes(app: Any) -> set[tuple[str, str]]:
    routes = set()
    for route in iter_route_contexts(app.routes):
        for method in route.methods or ():
            if method != "HEAD":
                routes.add((method, route.path))
    return routes


async def credentials(caller: str) -> dict[str, str]:
    """Headers for a caller, with a token for the user as stored now."""
    if caller == "anonymous":
        return {}
    if caller == "garbage token":
        return {"Authorization": "Bearer not.a.token"}
    username = {"user": "role-user", "admin": "test-admin", "deactivated user": "role-retired"}.get(caller, "role-old")
    async with async_session() as session:
        user = (await session.exec(select(User).where(col(User.username) == username))).one()
    if caller == "revoked token":
        user = User(id=user.id, username=user.username, password_hash="", token_version=user.token_version - 1)
    return {"Authorization": f"Bearer {issue_token(user)[0]}"}


def expected(access: str, caller: str, status: int, path: str) -> bool:
    logged_in = caller in ("user", "admin")
    if access == OPEN:
        return status == 200
    if access == OWN:  # the caller's login is not a credential here: everyone gets the same answer
        return status == {"/webhook/alerts": 401, "/api/auth/token": 422, "/api/auth/login": 303}[path]
    if not logged_in:  # the docs page sends a browser to the login page
        return status == (303 if path == "/docs" else 401)
    if access == ADMIN and caller != "admin":
        return status == 403
    return status not in (401, 403) and status < 500


@sqlite_only
async def test_every_route_has_an_access_rule(api_app):
    routes = app_routes(api_app)
    assert routes == set(ACCESS), (
        f"routes without an access rule here: {routes - set(ACCESS)}; rules for no route: {set(ACCESS) - routes}"
    )


async def test_role_matrix(anon, api_app, db):
    await add_user("role-user", "user")
    await add_user("role-retired", "user", active=False)
    old = await add_user("role-old", "user")
    db.execute("UPDATE users SET token_version = token_version + 1 WHERE id = :id", id=old.id)
    failures = []
    headers_of = {caller: await credentials(caller) for caller in CALLERS}
    # Logout last: it revokes the caller's tokens (the other routes would then see a revoked token).
    routes = sorted(app_routes(api_app), key=lambda route: (route[1] == "/api/auth/logout", route))
    for method, path in routes:
        access = ACCESS[(method, path)]
        for caller in CALLERS:
            headers = headers_of[caller]
            url = re.sub(r"\{\w+_id\}", "1", path).replace("{name}", "swagger-ui.css")
            r = await anon.request(method, url, headers=headers)
            if not expected(access, caller, r.status_code, path):
                failures.append(f"{method} {path} as {caller}: {r.status_code} (rule: {access})")
            if r.status_code == 401 and access in (LOGIN, ADMIN):
                assert r.headers["www-authenticate"] == "Bearer"
    assert not failures, "\n".join(failures)


@sqlite_only
async def test_admin_routes_answer_their_content(anon):
    """The matrix checks refusals; here the allowed callers get the real answer."""
    await add_user("role-user", "user")
    user = await credentials("user")
    admin = await credentials("admin")
    me = await anon.get("/api/auth/me", headers=user)
    assert me.json() == {"username": "role-user", "role": "user"}
    assert (await anon.get("/api/alerts", headers=user)).json() == {"items": [], "total": 0}
    assert (await anon.get("/api/alerts/1", headers=user)).status_code == 404
    audit = await anon.get("/api/audit", headers=admin)
    assert audit.status_code == 200 and "items" in audit.json()
    refused = await anon.get("/api/audit", headers=user)
    assert refused.status_code == 403 and refused.json() == {"detail": "admin role required"}


@sqlite_only
async def test_a_cookie_counts_like_a_bearer_token(anon):
    await add_user("role-user", "user")
    token = (await credentials("user"))["Authorization"].removeprefix("Bearer ")
    cookie = {"Cookie": f"re_session={token}"}
    assert (await anon.get("/api/alerts", headers=cookie)).status_code == 200
    assert (await anon.get("/api/audit", headers=cookie)).status_code == 403
    # A bad bearer header is not rescued by a good cookie, nor the other way round.
    assert (await anon.get("/api/alerts", headers={**cookie, "Authorization": "Bearer bad"})).status_code == 401
    assert (await anon.get("/api/alerts", headers={"Cookie": "re_session=bad"})).status_code == 401


@sqlite_only
async def test_openapi_declares_the_password_flow(client):
    schema = (await client.get("/openapi.json")).json()
    schemes = schema["components"]["securitySchemes"]
    oauth = [s for s in schemes.values() if s["type"] == "oauth2"]
    assert len(oauth) == 1
    assert oauth[0]["flows"]["password"]["tokenUrl"] == "/api/auth/token"
    [name] = [n for n, s in schemes.items() if s["type"] == "oauth2"]
    for (method, path), access in ACCESS.items():
        operation = schema["paths"].get(path, {}).get(method.lower())
        if operation is None:  # /docs, /openapi.json and the login form are not API operations
            continue
        declared = {key for requirement in operation.get("security", []) for key in requirement}
        if access in (LOGIN, ADMIN):
            assert name in declared, f"{method} {path} does not declare the login"
        else:
            assert name not in declared, f"{method} {path} declares a login it does not need"
    webhook = schema["paths"]["/webhook/alerts"]["post"]["security"]
    assert {key for requirement in webhook for key in requirement} == {"WebhookBearer", "WebhookBasic"}
