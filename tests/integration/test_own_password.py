"""Users change their own password, on SQLite and PostgreSQL: the JSON API (POST /api/auth/password)
and the account page's native form (POST /api/auth/password/form). A wrong current password counts
as a failed login; every token of the user is revoked; nothing repeats or stores a password."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlmodel import col, select

from remediation_app.db import async_session
from remediation_app.models import AuditEvent, LoginAttempt, User
from remediation_app.services import auth as auth_service
from remediation_app.services.security import verify_password
from tests.conftest import TEST_PASSWORD, add_user, bearer_for, login_token, sqlite_only
from tests.integration.test_auth_api import cookie_of, form_login

pytestmark = pytest.mark.anyio

NEW_PASSWORD = "my own brand-new passphrase"
SAME_SITE = {"Origin": "http://testserver"}
WRONG = {"error": "the current password is wrong"}


async def fetch_user(username: str) -> User:
    async with async_session() as session:
        return (await session.exec(select(User).where(col(User.username) == username))).one()


async def events(action: str = "user.password_change") -> list[AuditEvent]:
    async with async_session() as session:
        query = select(AuditEvent).where(col(AuditEvent.action) == action).order_by(col(AuditEvent.id))
        return list((await session.exec(query)).all())


async def attempts(username: str) -> list[LoginAttempt]:
    async with async_session() as session:
        query = select(LoginAttempt).where(col(LoginAttempt.username) == username).order_by(col(LoginAttempt.id))
        return list((await session.exec(query)).all())


def change(current: str = TEST_PASSWORD, new: str = NEW_PASSWORD) -> dict[str, str]:
    return {"current_password": current, "new_password": new}


def form(current: str = TEST_PASSWORD, new: str = NEW_PASSWORD, repeat: str | None = None) -> dict[str, str]:
    return {"current_password": current, "new_password": new, "repeat_password": new if repeat is None else repeat}


async def browser_cookie(anon: Any, username: str, password: str = TEST_PASSWORD) -> dict[str, str]:
    login = await anon.post("/api/auth/login", data=form_login(username, password))
    assert login.status_code == 303 and "error" not in login.headers["location"]
    return {"Cookie": f"{auth_service.SESSION_COOKIE}={cookie_of(login)[0]}"}


# ---- the JSON API -------------------------------------------------------------------------------


async def test_a_user_changes_their_password_and_every_old_token_is_revoked(anon):
    pia = await add_user("pia", "user")
    bearer = {"Authorization": f"Bearer {(await login_token(anon, 'pia')).json()['access_token']}"}
    cookie = await browser_cookie(anon, "pia")
    minted = bearer_for(pia)

    r = await anon.post("/api/auth/password", json=change(), headers=bearer)
    assert r.status_code == 204, r.text
    assert r.content == b""

    for headers in (bearer, cookie, minted):  # the caller's own token included
        assert (await anon.get("/api/auth/me", headers=headers)).status_code == 401
    assert (await login_token(anon, "pia")).status_code == 401
    again = await login_token(anon, "pia", NEW_PASSWORD)
    assert again.status_code == 200
    fresh = {"Authorization": f"Bearer {again.json()['access_token']}"}
    assert (await anon.get("/api/auth/me", headers=fresh)).json() == {"username": "pia", "role": "user"}
    stored = await fetch_user("pia")
    assert verify_password(NEW_PASSWORD, stored.password_hash) and stored.token_version == pia.token_version + 1

    [event] = await events()
    assert (event.actor, event.target, event.success, event.actor_id) == ("pia", "pia", True, pia.id)
    everything = json.dumps([e.details for e in await events()] + [e.details for e in await events("login.success")])
    assert TEST_PASSWORD not in everything and NEW_PASSWORD not in everything


async def test_a_cookie_changes_the_password_too(anon):
    await add_user("pia", "user")
    cookie = await browser_cookie(anon, "pia")
    r = await anon.post("/api/auth/password", json=change(), headers={**cookie, **SAME_SITE})
    assert r.status_code == 204
    assert (await anon.get("/api/auth/me", headers=cookie)).status_code == 401


async def test_a_wrong_current_password_counts_as_a_failed_login(anon):
    pia = await add_user("pia", "user")
    headers = bearer_for(pia)
    for n in range(5):
        r = await anon.post("/api/auth/password", json=change(current=f"wrong password {n}"), headers=headers)
        assert r.status_code == 401 and r.json() == WRONG, r.text
        assert r.headers["www-authenticate"] == "Bearer"
    assert [a.success for a in await attempts("pia")] == [False] * 5
    throttled = await anon.post("/api/auth/password", json=change(), headers=headers)  # right, too late
    assert throttled.status_code == 429 and throttled.headers["retry-after"] == "60"
    assert throttled.json() == {"error": "too many failed attempts; try again later"}
    assert (await login_token(anon, "pia")).status_code == 429  # the login is throttled as well
    # Nothing changed: the password and the token are the same as before.
    stored = await fetch_user("pia")
    assert verify_password(TEST_PASSWORD, stored.password_hash) and stored.token_version == pia.token_version
    assert (await anon.get("/api/auth/me", headers=headers)).status_code == 200
    refused = await events()
    assert [(e.success, e.details) for e in refused] == [(False, {"reason": "wrong current password"})] * 5 + [
        (False, {"reason": "throttled"})
    ]


async def test_failed_logins_throttle_the_password_change(anon):
    pia = await add_user("pia", "user")
    for _ in range(5):
        assert (await login_token(anon, "pia", "wrong password")).status_code == 401
    r = await anon.post("/api/auth/password", json=change(), headers=bearer_for(pia))
    assert r.status_code == 429
    assert verify_password(TEST_PASSWORD, (await fetch_user("pia")).password_hash)


async def test_an_overlong_current_password_is_wrong_without_hashing(anon, monkeypatch):
    pia = await add_user("pia", "user")

    def never(password: str, stored: str) -> bool:
        raise AssertionError("an overlong password was hashed")

    monkeypatch.setattr(auth_service, "verify_password", never)
    r = await anon.post("/api/auth/password", json=change(current="x" * 5000), headers=bearer_for(pia))
    assert r.status_code == 401 and r.json() == WRONG
    assert [a.success for a in await attempts("pia")] == [False]


REFUSED_NEW = [
    # (new password, expected error): nothing is hashed, counted or changed
    ("short", "the password needs at least 12 characters"),
    (TEST_PASSWORD, "the new password must differ from the current one"),
    ("x" * 1025, "the password is longer than 1024 characters"),
    ("nul\x00inside-password", "the password contains characters that cannot be used"),
]


def raw(body: str) -> bytes:
    """JSON text as bytes; escapes like \\ud800 stay escapes (a lone surrogate cannot be encoded)."""
    return body.encode("utf-8")


HOSTILE = [
    # (body, content type, status): nothing is hashed, counted or changed, and nothing sent is repeated
    (b"", "application/json", 422),
    (b"{", "application/json", 422),
    (b"[]", "application/json", 422),
    (b"[" * 8000 + b"]" * 8000, "application/json", 422),  # nested past the parser's recursion limit
    (b'"a string"', "application/json", 422),
    (raw('{"current_password": "correct horse battery staple"}'), "application/json", 422),
    (raw('{"new_password": "my own brand-new passphrase"}'), "application/json", 422),
    (raw('{"current_password": 1, "new_password": 2}'), "application/json", 422),
    (raw('{"current_password": null, "new_password": ["x"]}'), "application/json", 422),
    (b'{"current_password": "\xff\xfe", "new_password": "\xc3\x28 not utf-8 at all"}', "application/json", 422),
    (
        raw('{"current_password": "correct horse battery staple", "new_password": "a\\ud800b-longer-than-12"}'),
        "application/json",
        422,
    ),
    (
        raw('{"current_password": "correct horse battery staple", "new_password": "nul\\u0000-inside-password"}'),
        "application/json",
        422,
    ),
    (b'{"current_password": "' + b"A" * 200_000 + b'"}', "application/json", 413),
    (raw("current_password=x&new_password=y"), "application/x-www-form-urlencoded", 415),
    (raw('{"current_password": "x", "new_password": "y"}'), "text/plain", 415),
    (raw('{"current_password": "x", "new_password": "y"}'), "", 415),
]


async def test_a_refused_new_password_changes_nothing(anon):
    pia = await add_user("pia", "user")
    headers = bearer_for(pia)
    for new, message in REFUSED_NEW:
        r = await anon.post("/api/auth/password", json=change(new=new), headers=headers)
        assert r.status_code == 422 and r.json() == {"error": message}, (new[:20], r.text)
    for body, content_type, status in HOSTILE:
        r = await anon.post("/api/auth/password", content=body, headers={**headers, "Content-Type": content_type})
        assert r.status_code == status, (body[:60], r.status_code, r.text)
        assert set(r.json()) == {"error"}
        assert TEST_PASSWORD not in r.text and "brand-new" not in r.text and "AAAA" not in r.text
    stored = await fetch_user("pia")
    assert stored.password_hash == pia.password_hash and stored.token_version == pia.token_version
    assert await attempts("pia") == [] and await events() == []
    assert (await anon.get("/api/auth/me", headers=headers)).status_code == 200


async def test_a_huge_body_without_a_length_is_cut_off(anon):
    pia = await add_user("pia", "user")

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"current_password": "'
        for _ in range(64):
            yield b"B" * 1024

    r = await anon.post(
        "/api/auth/password", content=chunks(), headers={**bearer_for(pia), "Content-Type": "application/json"}
    )
    assert r.status_code == 413 and "BBBB" not in r.text


@sqlite_only
async def test_busy_hashing_answers_503(anon, monkeypatch):
    pia = await add_user("pia", "user")
    monkeypatch.setattr(auth_service.hashing, "waiting", 10_000)
    r = await anon.post("/api/auth/password", json=change(), headers=bearer_for(pia))
    assert r.status_code == 503 and r.json() == {"error": "the server is busy; try again in a moment"}
    f = await anon.post("/api/auth/password/form", data=form(), headers={**bearer_for(pia), **SAME_SITE})
    assert f.status_code == 303 and f.headers["location"] == "/account?error=busy"
    assert verify_password(TEST_PASSWORD, (await fetch_user("pia")).password_hash)


# ---- the browser form ---------------------------------------------------------------------------


async def test_the_browser_form_changes_the_password_and_keeps_this_tab_logged_in(anon):
    await add_user("pia", "user")
    cookie = await browser_cookie(anon, "pia")
    other_tab_bearer = {"Authorization": f"Bearer {(await login_token(anon, 'pia')).json()['access_token']}"}
    r = await anon.post("/api/auth/password/form", data=form(), headers={**cookie, **SAME_SITE})
    assert r.status_code == 303 and r.headers["location"] == "/account?changed=1"
    value, flags, valued = cookie_of(r)
    assert "httponly" in flags and valued["samesite"].lower() == "strict" and valued["path"] == "/"
    fresh = {"Cookie": f"{auth_service.SESSION_COOKIE}={value}"}
    assert (await anon.get("/api/auth/me", headers=fresh)).json()["username"] == "pia"
    for old in (cookie, other_tab_bearer):
        assert (await anon.get("/api/auth/me", headers=old)).status_code == 401
    assert (await login_token(anon, "pia")).status_code == 401
    assert (await login_token(anon, "pia", NEW_PASSWORD)).status_code == 200
    assert [e.success for e in await events()] == [True]


FORM_ERRORS = [
    # (form fields, error code in the redirect)
    (form(current="wrong password"), "invalid"),
    (form(repeat="something else entirely"), "mismatch"),
    ({"current_password": TEST_PASSWORD, "new_password": NEW_PASSWORD}, "missing"),
    (form(current=""), "missing"),
    (form(new="short"), "short"),
    (form(new=TEST_PASSWORD), "same"),
    (form(new="y" * 1025), "long"),
    (form(new="nul\x00inside-password"), "characters"),
]
FORM_BODIES = [
    # (raw body, content type, error code)
    (b"current_password=%FF%FE&new_password=abc&repeat_password=abc", "application/x-www-form-urlencoded", "input"),
    (b"current_password=\xff\xfe&new_password=abc", "application/x-www-form-urlencoded", "input"),
    (b"current_password=" + b"C" * 100_000, "application/x-www-form-urlencoded", "input"),
    (b"&".join(b"f%d=1" % n for n in range(50)), "application/x-www-form-urlencoded", "input"),
    (b'{"current_password": "x"}', "application/json", "input"),
    (b'--x\r\nContent-Disposition: form-data; name="a"\r\n\r\nb\r\n--x--', "multipart/form-data; boundary=x", "input"),
]


@sqlite_only
async def test_the_browser_form_answers_with_a_short_code_only(anon):
    pia = await add_user("pia", "user")
    cookie = {**await browser_cookie(anon, "pia"), **SAME_SITE}
    for data, code in FORM_ERRORS:
        r = await anon.post("/api/auth/password/form", data=data, headers=cookie)
        assert r.status_code == 303 and r.headers["location"] == f"/account?error={code}", (code, r.headers)
        assert not r.headers.get_list("set-cookie")
    for body, content_type, code in FORM_BODIES:
        r = await anon.post("/api/auth/password/form", content=body, headers={**cookie, "Content-Type": content_type})
        assert r.status_code == 303 and r.headers["location"] == f"/account?error={code}", (body[:40], r.text)
    stored = await fetch_user("pia")
    assert stored.password_hash == pia.password_hash and stored.token_version == pia.token_version
    assert [a.success for a in await attempts("pia")] == [True, False]  # the login, the one wrong password
    assert (await anon.get("/api/auth/me", headers=cookie)).status_code == 200
    # Throttled: after enough wrong passwords the form says so, even for the right one.
    for _ in range(4):
        await anon.post("/api/auth/password/form", data=form(current="wrong password"), headers=cookie)
    r = await anon.post("/api/auth/password/form", data=form(), headers=cookie)
    assert r.headers["location"] == "/account?error=throttled"


@sqlite_only
async def test_a_cross_site_password_change_is_refused(anon, db):
    await add_user("pia", "user")
    cookie = await browser_cookie(anon, "pia")
    for origin in ("https://evil.example", "http://testserver.evil.example", "null"):
        for path, kwargs in (("/api/auth/password/form", {"data": form()}), ("/api/auth/password", {"json": change()})):
            r = await anon.post(path, headers={**cookie, "Origin": origin}, **kwargs)
            assert r.status_code == 403, (origin, path)
            assert not r.headers.get_list("set-cookie")
    assert (await anon.get("/api/auth/me", headers=cookie)).status_code == 200
    assert db.scalar("SELECT count(*) FROM login_attempts WHERE success = :f", f=False) == 0
    assert verify_password(TEST_PASSWORD, (await fetch_user("pia")).password_hash)


@sqlite_only
async def test_the_form_without_a_login(anon):
    html = {"Accept": "text/html,*/*", **SAME_SITE}
    r = await anon.post("/api/auth/password/form", data=form(), headers=html)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/account"
    r = await anon.post("/api/auth/password/form", data=form())
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    r = await anon.post("/api/auth/password", json=change())
    assert r.status_code == 401
