"""Origins (issue: cross-origin use of a logged-in session): a page on another port of the same host,
or on a sibling subdomain, gets the SameSite=Strict cookie too. State-changing requests that the
cookie authenticates must come from an allowed origin; bearer-token clients are unaffected."""

from __future__ import annotations

import pytest

from remediation_app.services import auth as auth_service
from tests.conftest import add_user, bearer_for, login_token

pytestmark = pytest.mark.anyio

FOREIGN = ("http://testserver:9090", "http://grafana.testserver", "https://evil.example", "null")


async def _cookie(anon) -> dict[str, str]:
    user = await add_user("origin-user", "user")
    token = (await login_token(anon, user.username)).json()["access_token"]
    return {"Cookie": f"{auth_service.SESSION_COOKIE}={token}"}


async def test_cookie_writes_from_another_origin_or_none_are_refused(anon, post_webhook, db):
    from tests.support.payloads import am_alert, notification

    await post_webhook(notification(am_alert()))
    [alert] = db.rows("SELECT id FROM alerts")
    cookie = await _cookie(anon)
    path = f"/api/alerts/{alert['id']}/analyze"
    # What a same-site page sends with fetch(..., {method: "POST", mode: "no-cors", credentials: "include"}).
    for origin in FOREIGN:
        r = await anon.post(path, headers={**cookie, "Origin": origin})
        assert r.status_code == 403, origin
        assert r.json() == {"error": "request from another origin refused"}
        assert r.headers["x-frame-options"] == "DENY"  # the refusal carries the security headers
    assert (await anon.post(path, headers=cookie)).status_code == 403  # browsers always send Origin
    # From the app's own origin the request reaches the route (no provider configured: 409).
    own = await anon.post(path, headers={**cookie, "Origin": "http://testserver"})
    assert own.status_code == 409, own.text
    # Reads stay open to the cookie: a page elsewhere cannot read the answer (no CORS header for it,
    # tests/e2e/test_origins.py).
    read = await anon.get("/api/alerts", headers={**cookie, "Origin": "http://testserver:9090"})
    assert read.status_code == 200


async def test_bearer_clients_need_no_origin(anon, post_webhook, db):
    from tests.support.payloads import am_alert, notification

    await post_webhook(notification(am_alert()))
    [alert] = db.rows("SELECT id FROM alerts")
    headers = bearer_for(await add_user("api-client", "user"))
    r = await anon.post(f"/api/alerts/{alert['id']}/analyze", headers=headers)
    assert r.status_code == 409, r.text  # the route answered: no provider configured
    # A bearer header that is not a bearer token does not switch the check off.
    cookie = await _cookie(anon)
    basic = await anon.post(
        f"/api/alerts/{alert['id']}/analyze", headers={**cookie, "Authorization": "Basic eDp5", "Origin": FOREIGN[0]}
    )
    assert basic.status_code == 403


async def test_public_url_and_allowed_origins_are_trusted(anon, app_env):
    # Behind a proxy that rewrites Host, the browser's Origin is the public URL's.
    app_env(PUBLIC_URL="https://console.example.com/re/", ALLOWED_ORIGINS="https://ops.example.com:8443, http://x.test")
    cookie = await _cookie(anon)
    for origin, status in (
        ("https://console.example.com", 200),
        ("https://CONSOLE.example.com:443", 200),
        ("https://ops.example.com:8443", 200),
        ("http://x.test", 200),
        ("http://console.example.com", 403),
        ("https://ops.example.com", 403),
    ):
        r = await anon.post("/api/auth/logout", headers={**cookie, "Origin": origin})
        assert r.status_code == status, (origin, r.text)
        if status == 200:
            cookie = await _cookie(anon)  # the logout revoked it: log in again


def test_origin_settings_are_validated(app_env):
    from pydantic import ValidationError

    from remediation_app.settings import Settings

    with pytest.raises(ValidationError, match="not an http"):
        Settings(allowed_origins="console.example.com")
    with pytest.raises(ValidationError, match="not an http"):
        Settings(public_url="ftp://console.example.com")
    assert Settings(public_url="", allowed_origins="").origin_list == []
