"""The audit log, on SQLite and PostgreSQL: what is recorded (actor, address, time), that secrets never
are, and GET /api/audit's filters, paging and access."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import col, select

from remediation_app.db import async_session
from remediation_app.models import AuditEvent, User, utcnow
from remediation_app.services import app_secrets, audit, users
from tests.conftest import TEST_PASSWORD, add_user, bearer_for, login_token, sqlite_only

pytestmark = pytest.mark.anyio

NEW_PASSWORD = "correct-horse-NEW-passphrase-77"
CREATE_PASSWORD = "initial-passphrase-for-carol-42"
STORED_TOKEN = "stored-webhook-token-0123456789"


async def events(**where: Any) -> list[AuditEvent]:
    async with async_session() as session:
        query = select(AuditEvent).order_by(col(AuditEvent.id))
        for name, value in where.items():
            query = query.where(getattr(AuditEvent, name) == value)
        return list((await session.exec(query)).all())


async def fetch_user(username: str) -> User:
    async with async_session() as session:
        return (await session.exec(select(User).where(col(User.username) == username))).one()


def recent(event: AuditEvent) -> bool:
    return utcnow() - timedelta(minutes=1) < event.at <= utcnow()


async def test_logins_and_logouts_are_recorded(anon, app_env):
    app_env(LOGIN_MAX_FAILURES_PER_USER="2")
    user = await add_user("lena", "user")
    assert (await login_token(anon, "lena")).status_code == 200
    assert (await login_token(anon, "lena", "wrong-guess-1")).status_code == 401
    assert (await login_token(anon, "lena", "wrong-guess-2")).status_code == 401
    assert (await login_token(anon, "lena")).status_code == 429
    assert (await anon.post("/api/auth/logout", headers=bearer_for(user))).status_code == 200

    rows = await events(actor="lena")
    assert [(e.action, e.success) for e in rows] == [
        ("login.success", True),
        ("login.failure", False),
        ("login.failure", False),
        ("login.throttled", False),
        ("logout", True),
    ]
    assert all(e.address == "127.0.0.1" and recent(e) for e in rows)
    assert rows[0].actor_id == user.id and rows[-1].actor_id == user.id
    assert rows[1].actor_id is None  # a failed attempt is not proof of who typed it


async def test_user_changes_are_recorded_and_passwords_never_are(client, db):
    admin = await fetch_user("test-admin")
    address = "198.51.100.7"
    async with async_session() as session:
        carol = await users.create_user(
            session, actor=admin, username="carol", password=CREATE_PASSWORD, role="user", address=address
        )
        await session.commit()
    async with async_session() as session:
        await users.set_role(session, actor=admin, user_id=carol.id, role="admin", address=address)
        await users.reset_password(session, actor=admin, user_id=carol.id, password=NEW_PASSWORD, address=address)
        await users.set_active(session, actor=admin, user_id=carol.id, active=False, address=address)
        await session.commit()

    rows = [e for e in await events(actor="test-admin") if e.action.startswith("user.")]
    assert [(e.action, e.target) for e in rows] == [
        ("user.create", "carol"),
        ("user.role", "carol"),
        ("user.password", "carol"),
        ("user.deactivate", "carol"),
    ]
    assert all(e.actor_id == admin.id and e.address == address and recent(e) and e.success for e in rows)
    assert rows[0].details == {"role": "user"}
    assert rows[1].details == {"from": "user", "to": "admin"}
    # No password (nor its hash) anywhere in the audit table, whatever the column.
    stored_hash = db.scalar("SELECT password_hash FROM users WHERE username = 'carol'")
    dump = json.dumps(db.rows("SELECT * FROM audit_events"), default=str)
    for secret in (NEW_PASSWORD, CREATE_PASSWORD, stored_hash, TEST_PASSWORD):
        assert secret not in dump


@sqlite_only
async def test_a_failed_login_does_not_record_the_password_tried(anon, db):
    await add_user("lena", "user")
    typed = "typed-into-the-wrong-box-secret"
    await login_token(anon, "lena", typed)
    await anon.post("/api/auth/login", data={"username": "lena", "password": typed, "next": "/"})
    await login_token(anon, typed, "x")  # a password typed into the username field is recorded as the actor
    dump = json.dumps(db.rows("SELECT * FROM audit_events WHERE actor != :typed", typed=typed), default=str)
    assert typed not in dump
    assert len(await events(action="login.failure")) == 3


async def test_secret_changes_are_recorded_with_the_value_redacted(client, db):
    admin = await fetch_user("test-admin")
    async with async_session() as session:
        await app_secrets.set_secret(
            session, name="webhook_token", value=STORED_TOKEN, actor=admin, address="192.0.2.1"
        )
        await session.commit()
    async with async_session() as session:
        await app_secrets.set_secret(session, name="webhook_token", value=None, actor=admin, address="192.0.2.1")
        await session.commit()
    rows = await events(action="settings.secret")
    assert [(e.actor, e.target, e.address, e.details["change"]) for e in rows] == [
        ("test-admin", "webhook_token", "192.0.2.1", "set"),
        ("test-admin", "webhook_token", "192.0.2.1", "cleared"),
    ]
    assert all(recent(e) and e.actor_id == admin.id for e in rows)
    dump = json.dumps(db.rows("SELECT * FROM audit_events"), default=str)
    assert STORED_TOKEN not in dump and audit.REDACTED in dump


def test_redaction_reaches_nested_details():
    details = {"password": "p", "nested": {"api_key": "k", "list": [{"token": "t", "fine": 1}]}, "name": "n"}
    assert audit.redact(details) == {
        "password": audit.REDACTED,
        "nested": {"api_key": audit.REDACTED, "list": [{"token": audit.REDACTED, "fine": 1}]},
        "name": "n",
    }


@pytest.mark.parametrize(
    "key",
    [
        *("api_key", "apiKey", "X-Api-Key", "token", "webhook_token", "password", "password_hash", "secret"),
        *("private_key", "passphrase", "sshpass", "credential", "tokens"),
    ],
)
def test_secret_looking_keys_are_redacted_whatever_the_value(key):
    for value in ("s3cr3t", 12345, None, ["a", "b"]):
        if key == "tokens" and (value is None or isinstance(value, int)):
            continue  # a count of tokens, below
        assert audit.redact({key: value}) == {key: audit.REDACTED}, (key, value)


def test_token_counts_and_settings_stay_readable():
    details = {
        "max_tokens": 1500,
        "prompt_tokens": 812,
        "completion_tokens": None,
        "completionTokens": 40,
        "tool_calling": "auto",
        "temperature": 0.2,
        "auth": "set",
    }
    assert audit.redact(details) == details
    # A list or a text under "*tokens" may be tokens themselves: redacted.
    assert audit.redact({"max_tokens": "sk-abc", "tokens": ["t1"]}) == {
        "max_tokens": audit.REDACTED,
        "tokens": audit.REDACTED,
    }


async def seed(times: list[datetime]) -> None:
    """One event per time, alternating actors and actions, directly in the table."""
    async with async_session() as session:
        for n, at in enumerate(times):
            event = audit.record(
                session,
                action="rule.update" if n % 2 else "rule.create",
                actor="ann" if n % 3 == 0 else "ben",
                target=f"rule-{n}",
                address="10.0.0.1",
            )
            event.at = at
        await session.commit()


async def test_audit_api_filters_and_pages(client):
    base = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    await seed([base + timedelta(hours=n) for n in range(12)])

    def targets(body: dict[str, Any]) -> list[str]:
        return [item["target"] for item in body["items"]]

    everything = (await client.get("/api/audit", params={"since": base.isoformat(), "limit": 200})).json()
    assert everything["total"] == 12
    assert targets(everything) == [f"rule-{n}" for n in range(11, -1, -1)]  # newest first
    first = everything["items"][0]
    assert set(first) == {"id", "at", "actor", "action", "target", "address", "success", "details"}
    assert datetime.fromisoformat(first["at"]) == base + timedelta(hours=11)

    by_actor = (await client.get("/api/audit", params={"actor": "ann"})).json()
    assert by_actor["total"] == 4 and targets(by_actor) == ["rule-9", "rule-6", "rule-3", "rule-0"]
    by_action = (await client.get("/api/audit", params={"action": "rule.update", "actor": "ben"})).json()
    assert targets(by_action) == ["rule-11", "rule-7", "rule-5", "rule-1"]

    window = {"since": (base + timedelta(hours=3)).isoformat(), "until": (base + timedelta(hours=6)).isoformat()}
    assert targets((await client.get("/api/audit", params=window)).json()) == ["rule-5", "rule-4", "rule-3"]
    naive = {"since": "2026-03-01T15:00:00", "until": "2026-03-01T18:00:00"}  # read as UTC
    assert targets((await client.get("/api/audit", params=naive)).json()) == ["rule-5", "rule-4", "rule-3"]
    offset = {"since": "2026-03-01T16:00:00+01:00", "until": "2026-03-01T19:00:00+01:00"}
    assert targets((await client.get("/api/audit", params=offset)).json()) == ["rule-5", "rule-4", "rule-3"]

    pages = []
    for start in range(0, 12, 5):
        page = (await client.get("/api/audit", params={"actor": "ann", "limit": 5, "offset": start})).json()
        pages.append(targets(page))
        assert page["total"] == 4
    assert pages == [["rule-9", "rule-6", "rule-3", "rule-0"], [], []]
    two = (await client.get("/api/audit", params={"since": base.isoformat(), "limit": 5, "offset": 10})).json()
    assert targets(two) == ["rule-1", "rule-0"] and two["total"] == 12

    for bad in ({"limit": 0}, {"limit": 201}, {"offset": -1}, {"since": "yesterday"}, {"actor": "a" * 151}):
        assert (await client.get("/api/audit", params=bad)).status_code == 422, bad


@sqlite_only
async def test_audit_api_is_for_admins(anon):
    user = await add_user("plain", "user")
    assert (await anon.get("/api/audit")).status_code == 401
    assert (await anon.get("/api/audit", headers=bearer_for(user))).status_code == 403
    admin = await fetch_user("test-admin")
    assert (await anon.get("/api/audit", headers=bearer_for(admin))).status_code == 200
