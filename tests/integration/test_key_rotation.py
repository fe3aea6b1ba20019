"""Key rotation end to end, on SQLite and PostgreSQL: `python -m remediation_app rotate-keys`
re-encrypts every stored secret with the newest key, and refuses (changing nothing, naming the record,
never printing a key) when a secret opens with none of the keys.

Plain (not async) tests: the command runs its own event loop, as it does from a shell.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import pytest
from cryptography.fernet import Fernet

from remediation_app import cli, crypto
from remediation_app.db import async_session, dispose_engines
from remediation_app.services import app_secrets, key_rotation
from tests.conftest import WEBHOOK_TOKEN, add_user, sqlite_only

KEY_A, KEY_B, KEY_C = (Fernet.generate_key().decode() for _ in range(3))
STORED = {"webhook_token": "stored-webhook-token-aaaa", "extra_one": "first extra", "extra_two": "second extra"}
T = TypeVar("T")


def run(make: Callable[[], Awaitable[T]]) -> T:
    """Run app code in a loop of its own, closing its connections afterwards (like the CLI does)."""

    async def wrapped() -> T:
        try:
            return await make()
        finally:
            await dispose_engines()

    return asyncio.run(wrapped())


@pytest.fixture
def keys(app_env: Callable[..., None]) -> Iterator[Callable[[str], None]]:
    def use(value: str) -> None:
        app_env(ENCRYPTION_KEY=value)
        crypto.clear_cache()

    yield use
    crypto.clear_cache()
    app_secrets.clear_cache()


async def store_secrets() -> None:
    """The webhook token through the service; two more rows as later kinds of secrets would be."""
    admin = await add_user("rotator", "admin")
    async with async_session() as session:
        await app_secrets.set_secret(
            session, name="webhook_token", value=STORED["webhook_token"], actor=admin, address="cli"
        )
        await session.commit()


def insert_raw(db: Any, name: str, ciphertext: str) -> int:
    db.execute(
        "INSERT INTO app_secrets (name, ciphertext, updated_at, updated_by) VALUES (:n, :c, :t, 'test')",
        n=name,
        c=ciphertext,
        t="2026-01-01 00:00:00",
    )
    return int(db.scalar("SELECT id FROM app_secrets WHERE name = :n", n=name))


def ciphertexts(db: Any) -> dict[str, str]:
    return {row["name"]: row["ciphertext"] for row in db.rows("SELECT name, ciphertext FROM app_secrets")}


async def stored_webhook_token() -> str | None:
    async with async_session() as session:
        return await app_secrets.get_secret(session, "webhook_token")


def test_rotate_keys(keys, db, capsys):
    keys(KEY_A)
    run(store_secrets)
    insert_raw(db, "extra_one", crypto.encrypt(STORED["extra_one"]))
    insert_raw(db, "extra_two", crypto.encrypt(STORED["extra_two"]))
    before = ciphertexts(db)
    assert all(Fernet(KEY_A.encode()).decrypt(c.encode()) for c in before.values())

    keys(f"{KEY_B},{KEY_A}")
    assert cli.main(["rotate-keys"]) == 0
    out = capsys.readouterr()
    assert out.out.strip() == "re-encrypted 3 secrets with the newest key" and out.err == ""
    after = ciphertexts(db)
    assert set(after) == set(STORED)
    for name, token in after.items():
        assert token != before[name]
        assert Fernet(KEY_B.encode()).decrypt(token.encode()).decode() == STORED[name]  # the new key alone

    keys(KEY_B)  # the old key is gone: everything still opens
    assert {name: crypto.decrypt(token, record=name) for name, token in ciphertexts(db).items()} == STORED
    assert run(stored_webhook_token) == STORED["webhook_token"]
    [event] = [row for row in db.rows("SELECT * FROM audit_events WHERE action = 'keys.rotate'")]
    assert event["actor"] == "cli"
    for key in (KEY_A, KEY_B):
        assert key not in out.out + out.err


def test_a_stored_token_rotated_still_opens_the_webhook(keys, db, api_app):
    """Rotation in another process (the CLI) while the app runs: the webhook keeps accepting the token."""
    import httpx

    keys(KEY_A)
    run(store_secrets)

    async def post() -> int:
        transport = httpx.ASGITransport(app=api_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            r = await http.post(
                "/webhook/alerts", json={}, headers={"Authorization": f"Bearer {STORED['webhook_token']}"}
            )
            return r.status_code

    assert run(post) == 422  # authorized (an empty object is not a payload)
    keys(f"{KEY_B},{KEY_A}")
    assert cli.main(["rotate-keys"]) == 0
    keys(KEY_B)
    app_secrets.clear_cache()  # as after CHECK_S in a running process
    assert run(post) == 422
    assert STORED["webhook_token"] != WEBHOOK_TOKEN


def test_an_unknown_key_fails_naming_the_record_and_changes_nothing(keys, db, capsys):
    keys(KEY_A)
    run(store_secrets)
    insert_raw(db, "extra_one", crypto.encrypt(STORED["extra_one"]))
    bad_id = insert_raw(db, "extra_bad", Fernet(KEY_C.encode()).encrypt(b"made elsewhere").decode())
    insert_raw(db, "extra_two", crypto.encrypt(STORED["extra_two"]))  # after the bad one
    before = ciphertexts(db)

    keys(f"{KEY_B},{KEY_A}")
    assert cli.main(["rotate-keys"]) == 1
    out = capsys.readouterr()
    assert out.out == ""
    assert f"app_secrets id={bad_id}" in out.err and "nothing changed" in out.err
    for secret in (KEY_A, KEY_B, KEY_C, "made elsewhere", *STORED.values()):
        assert secret not in out.err
    assert ciphertexts(db) == before  # not even the rows before the bad one
    assert db.count("audit_events WHERE action = 'keys.rotate'") == 0

    # Once the bad row is dealt with (set again, here removed), rotation goes through.
    db.execute("DELETE FROM app_secrets WHERE id = :id", id=bad_id)
    assert cli.main(["rotate-keys"]) == 0
    assert "re-encrypted 3 secrets" in capsys.readouterr().out


@sqlite_only
def test_a_bad_encryption_key_fails_without_showing_it(keys, db, capsys):
    keys(f"{KEY_B},not-a-key-at-all")
    assert cli.main(["rotate-keys"]) == 1
    out = capsys.readouterr()
    assert "ENCRYPTION_KEY entry 2 is not a valid Fernet key" in out.err
    assert KEY_B not in out.err and "not-a-key-at-all" not in out.err


@sqlite_only
def test_nothing_to_rotate(keys, db, capsys):
    keys(KEY_A)
    assert cli.main(["rotate-keys"]) == 0
    assert capsys.readouterr().out.strip() == "re-encrypted 0 secrets with the newest key"


def test_a_secret_changed_during_rotation_is_not_overwritten(keys, db):
    """rotate_all rewrites a row only if it still holds what was read (a concurrent change wins)."""
    keys(KEY_A)
    run(store_secrets)
    keys(f"{KEY_B},{KEY_A}")

    async def rotate_with_a_change_in_between() -> int:
        async with async_session() as session:
            original = crypto.reencrypt

            def reencrypt_then_change(token: str, *, record: str) -> str:
                db.execute("UPDATE app_secrets SET ciphertext = :c", c=crypto.encrypt("changed meanwhile"))
                return original(token, record=record)

            crypto.reencrypt = reencrypt_then_change  # type: ignore[assignment]
            try:
                count = await key_rotation.rotate_all(session)
            finally:
                crypto.reencrypt = original  # type: ignore[assignment]
            await session.commit()
            return count

    assert run(rotate_with_a_change_in_between) == 0
    [token] = ciphertexts(db).values()
    assert crypto.decrypt(token, record="r") == "changed meanwhile"


@sqlite_only
def test_a_database_not_migrated_fails_cleanly(keys, app_env, blank_database_url, capsys):
    keys(KEY_A)
    app_env(DATABASE_URL=blank_database_url)
    assert cli.main(["rotate-keys"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("rotate-keys failed, nothing changed: database error:") and "app_secrets" in err
    assert "Traceback" not in err and KEY_A not in err


def test_provider_keys_rotate_and_empty_ones_are_skipped(keys, db, capsys):
    from remediation_app.services.llm import providers

    keys(KEY_A)

    async def store() -> None:
        admin = await add_user("rotator", "admin")
        async with async_session() as session:
            for name, key in (("with-key", "sk-rotate-me"), ("local", None)):
                data = providers.ProviderInput(name=name, model="openai/gpt-4o-mini", api_key=key)
                await providers.save_provider(session, data, provider_id=None, actor=admin)
            await session.commit()

    run(store)
    [before] = db.rows("SELECT api_key_ciphertext FROM llm_providers WHERE name = 'with-key'")
    keys(f"{KEY_B},{KEY_A}")
    assert cli.main(["rotate-keys"]) == 0
    assert "re-encrypted 1 secret with the newest key" in capsys.readouterr().out
    rows = {r["name"]: r["api_key_ciphertext"] for r in db.rows("SELECT name, api_key_ciphertext FROM llm_providers")}
    assert rows["local"] == "" and rows["with-key"] != before["api_key_ciphertext"]
    assert Fernet(KEY_B.encode()).decrypt(rows["with-key"].encode()).decode() == "sk-rotate-me"
