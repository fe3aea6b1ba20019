"""Login throttling that an attacker cannot turn against the account's owner (docs/security.md,
"Login throttling"), on SQLite and PostgreSQL. Failed logins from clients the account does not know
throttle those clients together, exactly as fast as before; a browser with the account's device
cookie, or an API client from an address that logged in before, keeps its own count."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel, col, select

from alembic import command
from remediation_app.db import async_session, sync_engine
from remediation_app.models import AuditEvent, KnownClient
from remediation_app.services import auth as auth_service
from remediation_app.services import migrations
from remediation_app.services.known_clients import DEVICE_COOKIE
from tests.conftest import TEST_PASSWORD, add_user, sqlite_only
from tests.integration.test_auth_api import age_login_attempts, cookie_of

pytestmark = pytest.mark.anyio

ATTACKERS = [f"203.0.113.{n}" for n in range(1, 6)]
HOME, OFFICE, CAFE = "198.51.100.10", "198.51.100.20", "198.51.100.99"
NEW_PASSWORD = "a brand-new passphrase for ada"


@pytest.fixture
def proxied(app_env: Any) -> None:
    """Behind a trusted proxy: each request's X-Forwarded-For is its client address."""
    app_env(TRUST_PROXY_HEADERS="true")


def headers(address: str, device: str | None = None, session: str | None = None) -> dict[str, str]:
    cookies = [f"{name}={value}" for name, value in ((DEVICE_COOKIE, device), ("re_session", session)) if value]
    return {"X-Forwarded-For": address, **({"Cookie": "; ".join(cookies)} if cookies else {})}


async def token(
    http: httpx.AsyncClient, username: str, password: str = TEST_PASSWORD, *, at: str, device: str | None = None
) -> int:
    """POST /api/auth/token from an address (with a device cookie if given): the status code."""
    data = {"username": username, "password": password}
    return (await http.post("/api/auth/token", data=data, headers=headers(at, device))).status_code


async def form(
    http: httpx.AsyncClient, username: str, password: str = TEST_PASSWORD, *, at: str, device: str | None = None
) -> httpx.Response:
    """The browser login form from an address (with a device cookie if given)."""
    data = {"username": username, "password": password, "next": "/"}
    return await http.post("/api/auth/login", data=data, headers=headers(at, device))


def outcome(r: httpx.Response) -> str:
    """What the login form did: "in" (logged in), or the error code it sent the browser back with."""
    assert r.status_code == 303, r.text
    location = r.headers["location"]
    return "in" if location == "/" else location.removeprefix("/login?error=").partition("&")[0]


def device_of(r: httpx.Response) -> str:
    return cookie_of(r, DEVICE_COOKIE)[0]


async def attack(http: httpx.AsyncClient, username: str, tries: int = 10) -> list[int]:
    """Wrong passwords for the account from several addresses, as an attacker would send them."""
    return [await token(http, username, f"guess {n}", at=ATTACKERS[n % len(ATTACKERS)]) for n in range(tries)]


async def known_clients() -> list[KnownClient]:
    async with async_session() as session:
        return list((await session.exec(select(KnownClient).order_by(col(KnownClient.id)))).all())


async def age_known_clients(days: float, kind: str | None = None) -> None:
    """Move the last successful login of known clients back in time (of one kind if given)."""
    async with async_session() as session:
        for row in (await session.exec(select(KnownClient))).all():
            if kind is None or row.kind == kind:
                row.last_success_at -= timedelta(days=days)
                session.add(row)
        await session.commit()


# ---- the attack ---------------------------------------------------------------------------------


async def test_an_attacker_cannot_lock_out_a_user_who_logged_in_before(anon, proxied):
    await add_user("ada", "admin")
    browser = await form(anon, "ada", at=HOME)
    assert outcome(browser) == "in"
    device = device_of(browser)
    assert await token(anon, "ada", at=OFFICE) == 200  # an API client, from the office

    # Wrong passwords from five addresses: the sixth is refused, as it always was.
    assert await attack(anon, "ada") == [401] * 5 + [429] * 5
    assert await token(anon, "ada", at="203.0.113.77") == 429  # even the right password, from a stranger
    assert outcome(await form(anon, "ada", at="203.0.113.78")) == "throttled"

    # The owner still gets in: the browser by its device cookie (from anywhere), the API client from
    # the address it logged in from before, a browser without the cookie at a known address too.
    assert outcome(await form(anon, "ada", at=CAFE, device=device)) == "in"
    assert await token(anon, "ada", at=OFFICE) == 200
    assert outcome(await form(anon, "ada", at=HOME)) == "in"
    # The attack goes on every few minutes and changes nothing for the owner.
    assert await attack(anon, "ada", 3) == [429] * 3
    assert await token(anon, "ada", at=OFFICE) == 200


async def test_guessing_is_as_slow_as_before(anon, proxied):
    """A client the account does not know gets no more tries than before: the account's failures
    from all unknown clients count together, whatever their addresses."""
    await add_user("ada", "admin")
    assert outcome(await form(anon, "ada", at=HOME)) == "in"  # the owner's browser is known: no help to others
    assert await attack(anon, "ada", 12) == [401] * 5 + [429] * 7
    await age_login_attempts(14)  # still inside the 15-minute window
    assert await attack(anon, "ada", 2) == [429] * 2
    await age_login_attempts(1.5)
    assert await attack(anon, "ada") == [401] * 5 + [429] * 5


async def test_only_a_device_cookie_of_that_account_counts(anon, proxied):
    ada = await add_user("ada", "admin")
    await add_user("mallory", "user")
    adas = device_of(await form(anon, "ada", at=HOME))
    mallorys = device_of(await form(anon, "mallory", at=ATTACKERS[0]))  # the attacker's own account
    assert await attack(anon, "ada") == [401] * 5 + [429] * 5
    [stored] = [row.value for row in await known_clients() if row.kind == "device" and row.user_id == ada.id]
    # Another account's cookie, made-up ones, and what the database holds (a hash) are no key.
    for device in (mallorys, "A" * 43, "", "x" * 5000, stored, adas.upper()):
        assert await token(anon, "ada", at=ATTACKERS[1], device=device) == 429, device[:20]
        assert outcome(await form(anon, "ada", at=ATTACKERS[1], device=device)) == "throttled", device[:20]
    assert outcome(await form(anon, "ada", at=ATTACKERS[1], device=adas)) == "in"


async def test_a_known_clients_own_failures_throttle_only_it(anon, proxied):
    await add_user("ada", "admin")
    device = device_of(await form(anon, "ada", at=HOME))
    assert await token(anon, "ada", at=OFFICE) == 200
    # Five typos in the owner's browser throttle that browser (its cookie is no key past the limit) ...
    for n in range(5):
        assert outcome(await form(anon, "ada", f"typo {n}", at=HOME, device=device)) == "invalid"
    assert outcome(await form(anon, "ada", at=HOME, device=device)) == "throttled"
    # ... and nobody else: the API client at the office, and a stranger, still log in.
    assert await token(anon, "ada", at=OFFICE) == 200
    assert await token(anon, "ada", at=CAFE) == 200
    # The same for the office address.
    for n in range(5):
        assert await token(anon, "ada", f"typo {n}", at=OFFICE) == 401
    assert await token(anon, "ada", at=OFFICE) == 429
    assert await token(anon, "ada", at="198.51.100.55") == 200


async def test_a_device_is_not_held_back_by_others_failing_from_its_address(anon, app_env):
    """The per-address limit (many accounts tried from one address) still stops strangers and API
    clients at that address; a browser with the account's device cookie is one account's client."""
    app_env(TRUST_PROXY_HEADERS="true", LOGIN_MAX_FAILURES_PER_ADDRESS="3")
    await add_user("ada", "admin")
    device = device_of(await form(anon, "ada", at=HOME))
    assert await token(anon, "ada", at=HOME) == 200
    for name in ("u1", "u2", "u3"):  # someone behind the same NAT tries other accounts
        assert await token(anon, name, "guess", at=HOME) == 401
    assert await token(anon, "u4", "guess", at=HOME) == 429
    assert await token(anon, "ada", at=HOME) == 429  # known by address only: the address limit holds
    assert outcome(await form(anon, "ada", at=HOME, device=device)) == "in"


# ---- the device cookie ----------------------------------------------------------------------------


@sqlite_only
async def test_the_device_cookie(anon, app_env, db):
    app_env(TRUST_PROXY_HEADERS="true", COOKIE_SECURE="true", LOGIN_DEVICE_DAYS="7")
    await add_user("ada", "admin")
    r = await form(anon, "ada", at=HOME)
    value, flags, valued = cookie_of(r, DEVICE_COOKIE)
    assert len(value) >= 43 and {"httponly", "secure"} <= flags
    assert valued["samesite"].lower() == "strict" and valued["path"] == "/api/auth"
    assert valued["max-age"] == str(7 * 24 * 60 * 60)
    # Only its SHA-256 is stored; the value itself is nowhere in the database.
    [row] = [row for row in await known_clients() if row.kind == "device"]
    assert row.value == hashlib.sha256(value.encode()).hexdigest()
    dump = json.dumps(
        [db.rows(f"SELECT * FROM {t}") for t in ("known_clients", "login_attempts", "audit_events")], default=str
    )
    assert value not in dump
    # No cookie for API clients or failed logins.
    login = await anon.post(
        "/api/auth/token", data={"username": "ada", "password": TEST_PASSWORD}, headers=headers(HOME)
    )
    assert login.status_code == 200 and not login.headers.get_list("set-cookie")
    assert not (await form(anon, "ada", "wrong", at=HOME)).headers.get_list("set-cookie")
    app_env(COOKIE_SECURE="false", TRUST_PROXY_HEADERS="true")
    assert "secure" not in cookie_of(await form(anon, "ada", at=HOME), DEVICE_COOKIE)[1]


async def test_the_device_cookie_is_new_at_every_login_and_keeps_its_accounts(anon, proxied):
    """The browser never chooses its cookie's value (a planted one is replaced), and one browser
    used for two accounts stays known to both."""
    await add_user("ada", "admin")
    await add_user("bob", "user")
    first = device_of(await form(anon, "ada", at=HOME))
    second = device_of(await form(anon, "bob", at=HOME, device=first))
    assert second != first
    devices = [(row.user_id, row.value) for row in await known_clients() if row.kind == "device"]
    assert len(devices) == 2 and {value for _, value in devices} == {hashlib.sha256(second.encode()).hexdigest()}
    assert await attack(anon, "ada") == [401] * 5 + [429] * 5
    assert await attack(anon, "bob") == [401] * 5 + [429] * 5
    assert outcome(await form(anon, "ada", at=CAFE, device=first)) == "throttled"  # replaced
    third = device_of(await form(anon, "ada", at=CAFE, device=second))
    assert outcome(await form(anon, "bob", at=CAFE, device=third)) == "in"
    planted = "planted-by-someone-else-0123456789abcdefghijk"
    fresh = device_of(await form(anon, "ada", at=HOME, device=planted))
    assert fresh != planted


async def test_the_password_form_works_under_attack_and_sets_the_cookie(anon, proxied):
    await add_user("ada", "admin")
    login = await form(anon, "ada", at=HOME)
    session, device = cookie_of(login)[0], device_of(login)
    assert await attack(anon, "ada") == [401] * 5 + [429] * 5
    fields = {"current_password": TEST_PASSWORD, "new_password": NEW_PASSWORD, "repeat_password": NEW_PASSWORD}
    r = await anon.post(
        "/api/auth/password/form",
        data=fields,
        headers={**headers(CAFE, device, session), "Origin": "http://testserver"},
    )
    assert r.status_code == 303 and r.headers["location"] == "/account?changed=1"
    renewed = device_of(r)
    assert renewed != device
    assert outcome(await form(anon, "ada", NEW_PASSWORD, at=CAFE, device=renewed)) == "in"


async def test_the_audit_log_says_which_kind_of_client(anon, proxied):
    await add_user("ada", "admin")
    device = device_of(await form(anon, "ada", at=HOME))
    assert await token(anon, "ada", at=OFFICE) == 200
    await attack(anon, "ada", 6)
    await form(anon, "ada", at=CAFE, device=device)
    async with async_session() as session:
        query = select(AuditEvent).where(col(AuditEvent.actor) == "ada").order_by(col(AuditEvent.id))
        rows = [(e.action, e.details) for e in (await session.exec(query)).all()]
    assert rows == [
        ("login.success", {"client": "unknown"}),
        ("login.success", {"client": "unknown"}),
        *[("login.failure", {"client": "unknown"})] * 5,
        ("login.throttled", {"client": "unknown"}),
        ("login.success", {"client": "device"}),
    ]


# ---- lifetimes ----------------------------------------------------------------------------------


async def test_known_clients_expire(anon, proxied):
    await add_user("ada", "admin")
    device = device_of(await form(anon, "ada", at=HOME))
    assert await token(anon, "ada", at=OFFICE) == 200
    assert await attack(anon, "ada") == [401] * 5 + [429] * 5

    await age_known_clients(29, "address")
    await age_known_clients(89, "device")
    assert await token(anon, "ada", at=OFFICE) == 200  # each login moves its client's last success
    r = await form(anon, "ada", at=CAFE, device=device)
    assert outcome(r) == "in"
    device = device_of(r)

    await age_known_clients(31, "address")
    assert await token(anon, "ada", at=OFFICE) == 429  # 30 days since: a stranger again
    await age_known_clients(91, "device")
    assert outcome(await form(anon, "ada", at=CAFE, device=device)) == "throttled"


async def test_expired_known_clients_are_pruned(anon, proxied):
    ada, bob = await add_user("ada", "admin"), await add_user("bob", "user")
    assert outcome(await form(anon, "ada", at=HOME)) == "in"
    assert await token(anon, "ada", at=OFFICE) == 200
    assert outcome(await form(anon, "bob", at=CAFE)) == "in"
    ages = {  # days since the last successful login; device lifetime 90, address lifetime 30
        (ada.id, "address", HOME): 29,
        (ada.id, "address", OFFICE): 31,
        (ada.id, "device"): 91,
        (bob.id, "address", CAFE): 0,
        (bob.id, "device"): 89,
    }
    async with async_session() as session:
        for row in (await session.exec(select(KnownClient))).all():
            key = (row.user_id, row.kind) if row.kind == "device" else (row.user_id, row.kind, row.value)
            row.last_success_at -= timedelta(days=ages.pop(key))
            session.add(row)
        await session.commit()
    assert ages == {}  # every known client was there
    async with async_session() as session:
        await auth_service.prune_login_attempts(session)  # what the hourly prune calls
        await session.commit()
    left = {(row.user_id, row.kind, row.value if row.kind == "address" else "") for row in await known_clients()}
    assert left == {(ada.id, "address", HOME), (bob.id, "address", CAFE), (bob.id, "device", "")}


async def test_addresses_can_be_left_out(anon, app_env):
    app_env(TRUST_PROXY_HEADERS="true", LOGIN_KNOWN_ADDRESS_DAYS="0")
    await add_user("ada", "admin")
    device = device_of(await form(anon, "ada", at=HOME))
    assert await token(anon, "ada", at=OFFICE) == 200
    assert await attack(anon, "ada") == [401] * 5 + [429] * 5
    assert await token(anon, "ada", at=OFFICE) == 429
    assert outcome(await form(anon, "ada", at=OFFICE, device=device)) == "in"


# ---- the migration ------------------------------------------------------------------------------


def test_the_migration_goes_both_ways_and_matches_the_models(db_kind, blank_database_url):
    url = blank_database_url
    config = migrations.alembic_config(url)
    command.upgrade(config, "0007")
    engine = sync_engine(url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO login_attempts (at, username, address, success) "
                "VALUES (CURRENT_TIMESTAMP, 'ada', '192.0.2.1', false)"
            )
        command.upgrade(config, "0008")
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT known_client FROM login_attempts").scalar_one() == ""
            diffs = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
        ours = [d for d in diffs if "known_client" in repr(d)]
        assert ours == [], ours
        command.downgrade(config, "0007")
        command.upgrade(config, "head")
    finally:
        engine.dispose()


async def test_an_admin_password_reset_forgets_the_known_clients(anon, proxied):
    """An admin resets a password when the account may be in other hands: what logged in to it
    before (perhaps the intruder's browser) is a stranger again."""
    from remediation_app.services import users

    ada = await add_user("ada", "user")
    browser = await form(anon, "ada", at=HOME)
    assert outcome(browser) == "in" and await known_clients()
    async with async_session() as session:
        admin = await add_user("root", "admin")
        await users.reset_password(session, actor=admin, user_id=ada.id, password=NEW_PASSWORD)
        await session.commit()
    assert await known_clients() == []
    assert await attack(anon, "ada") == [401] * 5 + [429] * 5
    # The old device cookie no longer exempts that browser from the account's lockout.
    assert outcome(await form(anon, "ada", NEW_PASSWORD, at=CAFE, device=device_of(browser))) == "throttled"
