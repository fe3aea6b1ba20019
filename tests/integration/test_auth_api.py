"""Logins end to end, on SQLite and PostgreSQL: tokens and their revocation, password hashing,
throttling, no user enumeration, the bounded hashing queue, and the browser login form's cookie."""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from datetime import timedelta
from typing import Any

import anyio
import pytest
from passlib.hash import argon2
from sqlmodel import col, select

from remediation_app.api.auth import safe_next
from remediation_app.db import async_session
from remediation_app.models import LoginAttempt, User, utcnow
from remediation_app.services import auth as auth_service
from remediation_app.services import users
from remediation_app.services.security import pwd_context, verify_password
from remediation_app.services.tokens import issue_token
from tests.conftest import TEST_PASSWORD, add_user, bearer_for, login_token, sqlite_only
from tests.support.payloads import am_alert, notification

pytestmark = pytest.mark.anyio

NEW_PASSWORD = "a different long passphrase"
INVALID = {"error": "invalid username or password"}


async def fetch_user(username: str) -> User:
    async with async_session() as session:
        user = (await session.exec(select(User).where(col(User.username) == username))).one()
    return user


async def age_login_attempts(minutes: float) -> None:
    """Move every recorded login attempt back in time (instead of waiting for the window to pass)."""
    async with async_session() as session:
        rows = (await session.exec(select(LoginAttempt))).all()
        for row in rows:
            row.at = row.at - timedelta(minutes=minutes)
            session.add(row)
        await session.commit()


def cookie_of(response: Any, name: str = auth_service.SESSION_COOKIE) -> tuple[str, set[str], dict[str, str]]:
    """(value, flag attributes, valued attributes) of the Set-Cookie for `name`; names lower-cased."""
    [header] = [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}=")]
    first, *attributes = (part.strip() for part in header.split(";"))
    flags = {a.lower() for a in attributes if "=" not in a}
    valued = {k.strip().lower(): v.strip() for k, _, v in (a.partition("=") for a in attributes if "=" in a)}
    return first.partition("=")[2], flags, valued


def form_login(username: str, password: str = TEST_PASSWORD, next_path: str = "/") -> dict[str, str]:
    return {"username": username, "password": password, "next": next_path}


# ---- tokens -------------------------------------------------------------------------------------


async def test_token_login_and_me(anon):
    await add_user("alice", "user")
    r = await login_token(anon, "alice")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "bearer" and body["access_token"] and body["expires_at"]
    me = await anon.get("/api/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200 and me.json() == {"username": "alice", "role": "user"}
    user = await fetch_user("alice")
    assert user.last_login_at is not None and utcnow() - user.last_login_at < timedelta(minutes=1)

    wrong = await login_token(anon, "alice", "wrong password")
    assert wrong.status_code == 401 and wrong.json() == INVALID
    assert wrong.headers["www-authenticate"] == "Bearer"
    assert (await anon.get("/api/auth/me")).status_code == 401


async def test_token_checks_against_the_database(client, db):
    alice = await add_user("alice", "user")
    dora = await add_user("dora", "user", active=False)
    good, _ = issue_token(alice)
    found = await auth_service.user_for_token(good)
    assert found is not None and found.username == "alice"

    unknown, _ = issue_token(User(id=987_654, username="ghost", password_hash="x", token_version=0))
    stale, _ = issue_token(
        User(id=alice.id, username="alice", password_hash="x", token_version=alice.token_version + 1)
    )
    for token in (unknown, issue_token(dora)[0], stale, "", None, "not-a-token"):
        assert await auth_service.user_for_token(token) is None
    # The version stored now is what counts: bumped behind the app's back, the old token is refused.
    db.execute("UPDATE users SET token_version = token_version + 5 WHERE username = 'alice'")
    assert await auth_service.user_for_token(good) is None


REVOCATIONS = ["logout", "password reset", "role change", "deactivation"]


async def test_revocation_is_immediate(anon):
    admin = await fetch_user("test-admin")
    for n, how in enumerate(REVOCATIONS):
        user = await add_user(f"rita{n}", "user")
        token = issue_token(user)[0]
        headers = {"Authorization": f"Bearer {token}"}
        assert (await anon.get("/api/auth/me", headers=headers)).status_code == 200, how
        if how == "logout":
            r = await anon.post("/api/auth/logout", headers=headers)
            assert r.status_code == 200 and r.json() == {"status": "logged out"}
        else:
            async with async_session() as session:
                if how == "password reset":
                    await users.reset_password(session, actor=admin, user_id=user.id, password=NEW_PASSWORD)
                elif how == "role change":
                    await users.set_role(session, actor=admin, user_id=user.id, role="admin")
                else:
                    await users.set_active(session, actor=admin, user_id=user.id, active=False)
                await session.commit()
        assert (await anon.get("/api/auth/me", headers=headers)).status_code == 401, how
        assert (await anon.get("/api/alerts", headers=headers)).status_code == 401, how
        assert await auth_service.user_for_token(token) is None, how
        # A new login works again (with the new password / role), except for a deactivated account.
        again = await login_token(anon, f"rita{n}", NEW_PASSWORD if how == "password reset" else TEST_PASSWORD)
        assert again.status_code == (401 if how == "deactivation" else 200), (how, again.text)
        if how == "role change":
            bearer = {"Authorization": f"Bearer {again.json()['access_token']}"}
            assert (await anon.get("/api/auth/me", headers=bearer)).json()["role"] == "admin"


# ---- password hashing ---------------------------------------------------------------------------


@sqlite_only
async def test_passwords_are_argon2id_at_owasp_parameters(client, db):
    admin = await fetch_user("test-admin")
    async with async_session() as session:
        await users.create_user(session, actor=admin, username="hana", password=NEW_PASSWORD, role="user")
        await session.commit()
    stored = db.scalar("SELECT password_hash FROM users WHERE username = 'hana'")
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$"), stored
    assert NEW_PASSWORD not in stored
    assert verify_password(NEW_PASSWORD, stored) and not verify_password(TEST_PASSWORD, stored)
    assert not pwd_context.needs_update(stored)


async def test_weaker_hash_is_upgraded_at_the_next_successful_login(anon, db):
    await add_user("wendy", "user")
    weak = argon2.using(type="ID", memory_cost=1024, time_cost=1, parallelism=1).hash(TEST_PASSWORD)
    assert weak.startswith("$argon2id$v=19$m=1024,t=1,p=1$")
    db.execute("UPDATE users SET password_hash = :h WHERE username = 'wendy'", h=weak)

    assert (await login_token(anon, "wendy", "wrong password")).status_code == 401
    assert db.scalar("SELECT password_hash FROM users WHERE username = 'wendy'") == weak  # only on success

    assert (await login_token(anon, "wendy")).status_code == 200
    upgraded = db.scalar("SELECT password_hash FROM users WHERE username = 'wendy'")
    assert upgraded.startswith("$argon2id$v=19$m=19456,t=2,p=1$"), upgraded
    assert verify_password(TEST_PASSWORD, upgraded)
    assert (await login_token(anon, "wendy")).status_code == 200  # and it still logs in


# ---- throttling ---------------------------------------------------------------------------------


async def test_the_sixth_failure_for_an_account_is_refused_until_the_window_passes(anon):
    await add_user("tom", "user")
    for _ in range(5):
        assert (await login_token(anon, "tom", "wrong password")).status_code == 401
    r = await login_token(anon, "tom")  # the right password, too late
    assert r.status_code == 429 and r.headers["retry-after"] == "60"
    assert r.json() == {"error": "too many failed attempts; try again later"}
    form = await anon.post("/api/auth/login", data=form_login("tom"))  # the browser form too
    assert form.status_code == 303 and form.headers["location"] == "/login?error=throttled&next=/"
    assert not form.headers.get_list("set-cookie")
    # An unknown account is throttled the same way (this tells nobody which accounts exist).
    for _ in range(5):
        assert (await login_token(anon, "nobody-here", "wrong password")).status_code == 401
    assert (await login_token(anon, "nobody-here", "wrong password")).status_code == 429
    # Another account from the same address is not affected (10 failures < 20 per address).
    assert (await login_token(anon, "test-admin")).status_code == 200

    await age_login_attempts(14)  # still inside the 15-minute window
    assert (await login_token(anon, "tom")).status_code == 429
    await age_login_attempts(1.5)
    assert (await login_token(anon, "tom")).status_code == 200


async def test_failures_per_address(anon, app_env):
    app_env(LOGIN_MAX_FAILURES_PER_ADDRESS="3")
    await add_user("tom", "user")
    for name in ("u1", "u2", "tom"):
        assert (await login_token(anon, name, "wrong password")).status_code == 401
    assert (await login_token(anon, "test-admin")).status_code == 429  # a different account, same address
    # X-Forwarded-For is not believed by default: it cannot dodge the limit.
    spoofed = {"X-Forwarded-For": "203.0.113.9"}
    r = await anon.post("/api/auth/token", data={"username": "tom", "password": TEST_PASSWORD}, headers=spoofed)
    assert r.status_code == 429
    # Behind a trusted proxy it is the client's address, with its own count.
    app_env(LOGIN_MAX_FAILURES_PER_ADDRESS="3", TRUST_PROXY_HEADERS="true")
    r = await anon.post("/api/auth/token", data={"username": "tom", "password": TEST_PASSWORD}, headers=spoofed)
    assert r.status_code == 200, r.text
    for n in range(3):
        await anon.post("/api/auth/token", data={"username": f"v{n}", "password": "wrong"}, headers=spoofed)
    # The proxy appends the address it saw; a client writing its own first entry changes nothing.
    forged = {"X-Forwarded-For": "192.0.2.55, 203.0.113.9"}
    r = await anon.post("/api/auth/token", data={"username": "tom", "password": TEST_PASSWORD}, headers=forged)
    assert r.status_code == 429


# ---- no user enumeration ------------------------------------------------------------------------


async def test_unknown_user_wrong_password_and_deactivated_look_the_same(anon, app_env, db_kind):
    app_env(LOGIN_MAX_FAILURES_PER_USER="1000", LOGIN_MAX_FAILURES_PER_ADDRESS="1000")
    await add_user("known", "user")
    await add_user("retired", "user", active=False)
    cases = {
        "unknown user": ("no-such-user", TEST_PASSWORD),
        "wrong password": ("known", "wrong password"),
        "deactivated": ("retired", TEST_PASSWORD),  # even with the right password
    }
    await login_token(anon, "warm-up", "x")  # the first unknown user computes the dummy hash once
    answers: dict[str, set[tuple[int, str, str]]] = {name: set() for name in cases}
    timings: dict[str, list[float]] = {name: [] for name in cases}
    # The answers on both databases; the timing (one argon2 check in every case) once, on SQLite.
    rounds = 10 if db_kind == "sqlite" else 1
    for _ in range(rounds):
        for name, (username, password) in cases.items():  # interleaved: drift hits all three alike
            started = time.perf_counter()
            r = await login_token(anon, username, password)
            timings[name].append(time.perf_counter() - started)
            answers[name].add((r.status_code, r.text, r.headers.get("www-authenticate", "")))
    assert all(len(seen) == 1 for seen in answers.values()), answers
    assert len({next(iter(seen)) for seen in answers.values()}) == 1, answers
    assert next(iter(answers["unknown user"]))[0] == 401
    medians = {name: statistics.median(values) for name, values in timings.items()}
    reference = medians["wrong password"]
    if rounds > 1:
        for value in medians.values():
            assert 0.5 <= value / reference <= 2.0, medians

    forms = set()
    for username, password in cases.values():
        r = await anon.post("/api/auth/login", data=form_login(username, password, "/alerts/1"))
        forms.add((r.status_code, r.headers["location"], tuple(r.headers.get_list("set-cookie"))))
    assert forms == {(303, "/login?error=invalid&next=/alerts/1", ())}


# ---- bounded hashing ----------------------------------------------------------------------------


async def test_a_login_burst_beyond_the_hashing_bound_is_busy_and_the_webhook_still_answers(
    client, anon, app_env, auth, monkeypatch
):
    app_env(LOGIN_HASH_CONCURRENCY="1", LOGIN_MAX_WAITING="0")
    await add_user("burst", "user")
    entered, release = threading.Event(), threading.Event()
    real_verify = verify_password

    def held_verify(password: str, stored: str) -> bool:
        """The real check, held until the test lets go: the first login occupies the only slot."""
        entered.set()
        release.wait(15)
        return real_verify(password, stored)

    monkeypatch.setattr(auth_service, "verify_password", held_verify)
    tasks = [asyncio.create_task(login_token(anon, "burst")) for _ in range(6)]
    try:
        assert await anyio.to_thread.run_sync(entered.wait, 30), "no login reached the password check"
        finished: set[asyncio.Task[Any]] = set()
        while len(finished) < 5:  # every login but the one holding the slot is answered at once
            waiting = set(tasks) - finished
            done, _pending = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED, timeout=10)
            assert done, "logins beyond the hashing bound were not answered at once"
            finished |= done
        busy = [task.result() for task in finished]
        assert all(r.status_code == 503 for r in busy), [r.status_code for r in busy]
        assert all(r.json() == {"error": "the server is busy; try again in a moment"} for r in busy)
        assert all(r.headers["retry-after"] == "60" for r in busy)
        # While the password check is still running, the webhook is served normally.
        for n in range(3):
            payload = notification(am_alert(f"DuringBurst{n}"))
            r = await client.post("/webhook/alerts", json=payload, headers=auth)
            assert r.status_code == 200, r.text
        assert auth_service.hashing.waiting == 1
    finally:
        release.set()
    [holder] = set(tasks) - finished
    assert (await holder).status_code == 200
    assert auth_service.hashing.waiting == 0
    # Once the slot is free, logins go through again.
    assert (await login_token(anon, "burst")).status_code == 200


# ---- the browser login form ---------------------------------------------------------------------


@sqlite_only
async def test_browser_login_sets_a_strict_httponly_cookie(anon):
    await add_user("bea", "user")
    r = await anon.post("/api/auth/login", data=form_login("bea", next_path="/alerts/7?tab=timeline"))
    assert r.status_code == 303
    assert r.headers["location"] == "/alerts/7?tab=timeline"
    value, flags, valued = cookie_of(r)
    assert "httponly" in flags and "secure" not in flags  # plain http, COOKIE_SECURE=auto
    assert valued["samesite"].lower() == "strict" and valued["path"] == "/"
    assert valued["max-age"] == str(60 * 60)
    me = await anon.get("/api/auth/me", headers={"Cookie": f"{auth_service.SESSION_COOKIE}={value}"})
    assert me.status_code == 200 and me.json()["username"] == "bea"

    wrong = await anon.post("/api/auth/login", data=form_login("bea", "wrong password", "/rules"))
    assert wrong.status_code == 303 and wrong.headers["location"] == "/login?error=invalid&next=/rules"
    assert not wrong.headers.get_list("set-cookie")
    # Only the password form sets the cookie: a bearer token alone (e.g. from a log) never becomes one.
    stolen = await anon.post("/api/auth/login", data=form_login("bea", ""), headers=bearer_for(await fetch_user("bea")))
    assert stolen.status_code == 303 and stolen.headers["location"].startswith("/login?error=invalid")
    assert not stolen.headers.get_list("set-cookie")


SECURE_CASES = [
    # (environment, request headers, scheme, Secure expected)
    ({}, {}, "http", False),
    ({}, {}, "https", True),
    ({"COOKIE_SECURE": "true"}, {}, "http", True),
    ({"COOKIE_SECURE": "false"}, {}, "https", False),
    ({"TRUST_PROXY_HEADERS": "true"}, {"X-Forwarded-Proto": "https"}, "http", True),
    ({}, {"X-Forwarded-Proto": "https"}, "http", False),  # an untrusted header is ignored
]


@sqlite_only
async def test_secure_flag(anon, app_env):
    await add_user("bea", "user")
    for env, headers, scheme, secure in SECURE_CASES:
        app_env(**{"COOKIE_SECURE": None, "TRUST_PROXY_HEADERS": None, **env})
        r = await anon.post(f"{scheme}://testserver/api/auth/login", data=form_login("bea"), headers=headers)
        assert r.status_code == 303, r.text
        _value, flags, _valued = cookie_of(r)
        assert ("secure" in flags) is secure, (env, headers, scheme)


OPEN_REDIRECTS = [
    "//evil.example",
    "//evil.example/path",
    "https://evil.example",
    "http:evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "/ /evil.example",
    "javascript:alert(1)",
    "evil.example",
    "",
    None,
]


def test_only_local_paths_are_followed_after_login():
    for target in OPEN_REDIRECTS:
        assert safe_next(target) == "/", target
    for target in ("/", "/alerts/7", "/alerts?status=firing&q=disk", "/admin/users#top", "/a//b"):
        assert safe_next(target) == target


@sqlite_only
async def test_open_redirects_are_refused(anon):
    await add_user("bea", "user")
    for target in ("//evil.example", "https://evil.example", "/\\evil"):
        r = await anon.post("/api/auth/login", data=form_login("bea", next_path=target))
        assert r.status_code == 303 and r.headers["location"] == "/", target
    failed = await anon.post("/api/auth/login", data=form_login("bea", "wrong password", "//evil.example"))
    assert failed.headers["location"] == "/login?error=invalid&next=/"


@sqlite_only
async def test_a_cross_site_login_is_refused(anon, db):
    await add_user("bea", "user")
    for origin in ("https://evil.example", "http://testserver.evil.example", "https://testserver:8443", "null"):
        r = await anon.post("/api/auth/login", data=form_login("bea"), headers={"Origin": origin})
        assert r.status_code == 403, origin
        assert not r.headers.get_list("set-cookie")
    assert db.count("login_attempts") == 0  # not even tried
    same = await anon.post("/api/auth/login", data=form_login("bea"), headers={"Origin": "http://testserver"})
    assert same.status_code == 303 and cookie_of(same)[0]


async def test_logout_clears_the_cookie_and_revokes_every_token(anon):
    await add_user("bea", "user")
    login = await anon.post("/api/auth/login", data=form_login("bea"))
    cookie = {"Cookie": f"{auth_service.SESSION_COOKIE}={cookie_of(login)[0]}"}
    bearer = {"Authorization": f"Bearer {(await login_token(anon, 'bea')).json()['access_token']}"}
    assert (await anon.get("/api/auth/me", headers=cookie)).status_code == 200
    assert (await anon.get("/api/auth/me", headers=bearer)).status_code == 200

    cross = await anon.post("/api/auth/logout", headers={**cookie, "Origin": "https://evil.example"})
    assert cross.status_code == 403
    assert (await anon.get("/api/auth/me", headers=cookie)).status_code == 200  # nothing was revoked

    r = await anon.post(
        "/api/auth/logout", headers={**cookie, "Origin": "http://testserver", "Accept": "text/html,*/*"}
    )
    assert r.status_code == 303 and r.headers["location"] == "/login"
    value, flags, valued = cookie_of(r)
    assert value in ("", '""') and valued["max-age"] == "0" and valued["path"] == "/" and "httponly" in flags
    for headers in (cookie, bearer):
        assert (await anon.get("/api/auth/me", headers=headers)).status_code == 401
        assert (await anon.get("/api/alerts", headers=headers)).status_code == 401
    assert (await anon.post("/api/auth/logout", headers={**cookie, "Origin": "http://testserver"})).status_code == 401


async def test_a_browser_whose_login_expired_is_still_logged_out(anon):
    """Log out with a revoked cookie: the browser still gets the login page and a cleared cookie;
    an API client without a login gets 401."""
    await add_user("cleo", "user")
    login = await anon.post("/api/auth/login", data=form_login("cleo"))
    cookie = {"Cookie": f"{auth_service.SESSION_COOKIE}={cookie_of(login)[0]}"}
    html = {"Accept": "text/html,*/*", "Origin": "http://testserver"}
    first = await anon.post("/api/auth/logout", headers={**cookie, **html})
    assert first.status_code == 303
    again = await anon.post("/api/auth/logout", headers={**cookie, **html})
    assert again.status_code == 303 and again.headers["location"] == "/login"
    assert cookie_of(again)[2]["max-age"] == "0"
    assert (await anon.post("/api/auth/logout", headers={**cookie, "Origin": "http://testserver"})).status_code == 401
    # A cookie without an Origin is no browser's request: refused before anything else (api/origins.py).
    assert (await anon.post("/api/auth/logout", headers=cookie)).status_code == 403
