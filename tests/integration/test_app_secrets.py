"""Secrets an admin sets at run time (services/app_secrets.py), on SQLite and PostgreSQL: stored
encrypted, reported set/unset without the value, and the webhook token the Alertmanager webhook accepts
besides WEBHOOK_TOKEN, read at most once a second per process."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from sqlmodel import col, select

from remediation_app import crypto
from remediation_app.db import async_engine, async_session
from remediation_app.models import User
from remediation_app.services import app_secrets
from tests.conftest import sqlite_only
from tests.support.payloads import am_alert, notification

pytestmark = pytest.mark.anyio

STORED = "stored-token-from-the-admin-page"
NEWER = "a-newer-stored-token-set-elsewhere"


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    app_secrets.clear_cache()
    crypto.clear_cache()
    yield
    app_secrets.clear_cache()
    crypto.clear_cache()


class Clock:
    """Stands in for time.monotonic in app_secrets: the test decides when a second has passed."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def tick(self) -> None:
        self.now += app_secrets.CHECK_S + 0.01


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(app_secrets, "_clock", fake)
    return fake


@pytest.fixture
def secret_reads() -> Iterator[list[str]]:
    """Every SQL statement that reads the app_secrets table, as the app's engine runs it."""
    seen: list[str] = []
    engine = async_engine().sync_engine

    def on_execute(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "app_secrets" in statement and statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", on_execute)
    yield seen
    sa.event.remove(engine, "before_cursor_execute", on_execute)


async def admin() -> User:
    async with async_session() as session:
        return (await session.exec(select(User).where(col(User.username) == "test-admin"))).one()


async def set_token(value: str | None) -> None:
    async with async_session() as session:
        await app_secrets.set_secret(session, name="webhook_token", value=value, actor=await admin(), address="t")
        await session.commit()


async def post(client: Any, token: str | None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {"Authorization": ""}
    r = await client.post("/webhook/alerts", json=notification(am_alert("StoredToken")), headers=headers)
    return r.status_code


async def test_set_get_status_and_clear(client, db):
    async with async_session() as session:
        assert await app_secrets.secret_status(session) == {"webhook_token": False}
        assert await app_secrets.get_secret(session, "webhook_token") is None
    await set_token(STORED)
    [row] = db.rows("SELECT * FROM app_secrets")
    assert row["name"] == "webhook_token" and row["updated_by"] == "test-admin"
    assert STORED not in row["ciphertext"] and crypto.decrypt(row["ciphertext"], record="r") == STORED
    async with async_session() as session:
        assert await app_secrets.secret_status(session) == {"webhook_token": True}
        assert await app_secrets.get_secret(session, "webhook_token") == STORED
    await set_token(NEWER)  # replacing keeps one row
    assert db.count("app_secrets") == 1
    await set_token(None)
    await set_token(None)  # clearing what is not set is fine
    assert db.count("app_secrets") == 0
    async with async_session() as session:
        assert await app_secrets.secret_status(session) == {"webhook_token": False}


REFUSED = [
    ("no_such_secret", "some-value"),
    ("webhook_token", ""),
    ("webhook_token", " padded-token "),
    ("webhook_token", "has-a space"),
    ("webhook_token", "line\nbreak"),
    ("webhook_token", "x" * 4097),
]


@sqlite_only
async def test_refused_values_change_nothing(client, db):
    for name, value in REFUSED:
        async with async_session() as session:
            with pytest.raises(app_secrets.SecretError) as caught:
                await app_secrets.set_secret(session, name=name, value=value, actor=await admin(), address="t")
        if value.strip():
            assert value.strip() not in str(caught.value)
    assert db.count("app_secrets") == 0 and db.count("audit_events") == 0


@sqlite_only
async def test_an_undecryptable_secret_names_the_record(client, db):
    await set_token(STORED)
    row_id = db.scalar("SELECT id FROM app_secrets")
    db.execute("UPDATE app_secrets SET ciphertext = :c", c=Fernet(Fernet.generate_key()).encrypt(b"x").decode())
    async with async_session() as session:
        with pytest.raises(crypto.DecryptionError) as caught:
            await app_secrets.get_secret(session, "webhook_token")
        assert await app_secrets.secret_status(session) == {"webhook_token": True}  # set, if unreadable
    assert f"app_secrets id={row_id}" in str(caught.value)


async def test_webhook_accepts_the_stored_token_besides_the_environment_one(client, auth):
    assert await post(client, STORED) == 401
    await set_token(STORED)
    assert await post(client, STORED) == 200  # at once: this process cleared its cache on commit
    assert await post(client, auth["Authorization"].removeprefix("Bearer ")) == 200  # WEBHOOK_TOKEN still works
    for wrong in ("wrong", "", STORED + "x", STORED[:-1], STORED.upper()):
        assert await post(client, wrong) == 401, wrong
    assert await post(client, None) == 401
    await set_token(None)
    assert await post(client, STORED) == 401  # and cleared at once


@sqlite_only
async def test_a_stored_token_alone_configures_the_webhook(client, app_env):
    app_env(WEBHOOK_TOKEN=None)
    assert await post(client, STORED) == 401  # nothing configured: everything is refused
    await set_token(STORED)
    assert await post(client, STORED) == 200
    assert await post(client, "wrong") == 401
    # An open webhook (WEBHOOK_ALLOW_UNAUTHENTICATED) closes as soon as a token is stored.
    app_env(WEBHOOK_TOKEN=None, WEBHOOK_ALLOW_UNAUTHENTICATED="true")
    assert await post(client, None) == 401
    assert await post(client, STORED) == 200
    await set_token(None)
    assert await post(client, None) == 200


async def test_the_stored_token_is_read_at_most_once_a_second(client, db, clock, secret_reads, monkeypatch):
    decrypted: list[str] = []
    real_decrypt = app_secrets.decrypt

    def counting_decrypt(token: str, *, record: str) -> str:
        decrypted.append(record)
        return real_decrypt(token, record=record)

    monkeypatch.setattr(app_secrets, "decrypt", counting_decrypt)
    await set_token(STORED)
    secret_reads.clear()
    for _ in range(5):
        assert await post(client, STORED) == 200
    assert len(secret_reads) == 1 and len(decrypted) == 1

    # Unchanged after a second: read again, but not decrypted again.
    for _ in range(3):
        clock.tick()
        assert await post(client, STORED) == 200
    assert len(secret_reads) == 4 and len(decrypted) == 1

    # Another process changes it: this one keeps the token it read for up to a second...
    db.execute("UPDATE app_secrets SET ciphertext = :c", c=crypto.encrypt(NEWER))
    assert await post(client, STORED) == 200
    assert await post(client, NEWER) == 401
    clock.tick()  # ...and then follows.
    assert await post(client, NEWER) == 200
    assert await post(client, STORED) == 401
    assert len(decrypted) == 2


@sqlite_only
async def test_the_environment_token_needs_no_database_read(client, auth, secret_reads):
    await set_token(STORED)
    secret_reads.clear()
    for _ in range(3):
        r = await client.post("/webhook/alerts", json=notification(am_alert("EnvToken")), headers=auth)
        assert r.status_code == 200
    assert secret_reads == []


@sqlite_only
async def test_an_unreadable_stored_token_fails_closed(client, app_env, caplog, db):
    app_env(WEBHOOK_TOKEN=None, WEBHOOK_ALLOW_UNAUTHENTICATED="true")
    await set_token(STORED)
    row_id = db.scalar("SELECT id FROM app_secrets")
    app_env(WEBHOOK_TOKEN=None, WEBHOOK_ALLOW_UNAUTHENTICATED="true", ENCRYPTION_KEY=Fernet.generate_key().decode())
    app_secrets.clear_cache()
    with caplog.at_level(logging.ERROR, logger="remediation_app.services.app_secrets"):
        assert await post(client, STORED) == 401
        assert await post(client, None) == 401  # still configured: not open
    [message] = [r.getMessage() for r in caplog.records]
    assert f"app_secrets id={row_id}" in message and STORED not in message


def test_webhook_authorized_with_a_stored_token(monkeypatch):
    """The pure check: the stored token counts as configured; an unreadable one matches nothing."""
    from remediation_app.services.security import StoredToken, webhook_authorized
    from remediation_app.settings import Settings

    for name in ("WEBHOOK_TOKEN", "WEBHOOK_USERNAME", "WEBHOOK_PASSWORD", "WEBHOOK_ALLOW_UNAUTHENTICATED"):
        monkeypatch.delenv(name, raising=False)
    open_webhook = Settings(webhook_allow_unauthenticated=True)
    assert webhook_authorized(None, open_webhook)
    assert not webhook_authorized(None, open_webhook, StoredToken(STORED))
    assert webhook_authorized(f"Bearer {STORED}", open_webhook, StoredToken(STORED))
    unreadable = StoredToken(None)
    for header in (None, "", "Bearer ", "Bearer None", "Bearer null", f"Bearer {STORED}"):
        assert not webhook_authorized(header, open_webhook, unreadable), header
    both = Settings(webhook_token="env-token")
    assert webhook_authorized("Bearer env-token", both, StoredToken(STORED))
    assert webhook_authorized(f"bearer  {STORED} ", both, StoredToken(STORED))
    assert not webhook_authorized("Bearer ", both, StoredToken(STORED))
    assert not webhook_authorized(f"Basic {STORED}", both, StoredToken(STORED))
