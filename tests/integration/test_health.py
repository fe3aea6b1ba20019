"""/healthz and /readyz, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from remediation_app.services.migrations import head_revision

pytestmark = pytest.mark.anyio


def unreachable_url(db_kind: str) -> str:
    if db_kind == "sqlite":
        return "sqlite:////dev/null/cannot/be/a/directory/remediation.db"
    return "postgresql+psycopg://postgres@127.0.0.1:9/nothing_listens_here"  # the discard port


async def test_healthz(client):
    r = await client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


async def test_readyz_when_migrated(client):
    r = await client.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "ok", "revision": head_revision()}


async def test_readyz_503_on_a_database_never_migrated(client, app_env, blank_database_url):
    app_env(DATABASE_URL=blank_database_url)
    r = await client.get("/readyz")
    assert r.status_code == 503
    assert r.json() == {"status": "unavailable", "database": "not migrated", "revision": None, "head": head_revision()}
    assert (await client.get("/healthz")).status_code == 200  # alive, just not ready


async def test_readyz_503_on_a_database_behind_head(client, db):
    db.execute("UPDATE alembic_version SET version_num = '0000'")
    r = await client.get("/readyz")
    assert r.status_code == 503
    assert r.json()["database"] == "not migrated" and r.json()["revision"] == "0000"


async def test_readyz_503_when_unreachable(client, app_env, db_kind):
    app_env(DATABASE_URL=unreachable_url(db_kind))
    r = await client.get("/readyz")
    assert r.status_code == 503
    assert r.json()["status"] == "unavailable"
    assert r.json()["database"].startswith("unreachable")


async def test_api_503_with_retry_after_when_unreachable(client, app_env, auth, db_kind):
    from tests.support.payloads import am_alert, notification

    app_env(DATABASE_URL=unreachable_url(db_kind))
    r = await client.post("/webhook/alerts", json=notification(am_alert()), headers=auth)
    assert r.status_code == 503, r.text
    assert r.headers["Retry-After"].isdigit()
    r = await client.get("/api/alerts")
    assert r.status_code == 503 and r.headers["Retry-After"]
    r = await client.get("/api/alerts/1")
    assert r.status_code == 503


async def test_webhook_503_on_a_database_never_migrated(client, app_env, auth, blank_database_url):
    """An unmigrated database is not a client error: 503, so Alertmanager retries after the upgrade."""
    from tests.support.payloads import am_alert, notification

    app_env(DATABASE_URL=blank_database_url)
    r = await client.post("/webhook/alerts", json=notification(am_alert()), headers=auth)
    assert r.status_code == 503, r.text
