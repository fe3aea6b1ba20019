"""The database goes away: the webhook answers 503 (nothing stored, retry), and the retry stores everything.

PostgreSQL is reached through a TCP proxy that the test stops (refusing new connections and dropping
open ones) and starts again. SQLite is locked by another connection (BEGIN EXCLUSIVE) so that the
app's write fails after the 5 s busy timeout; in WAL mode reads carry on meanwhile. (An SQLite file
that cannot be opened at all is in test_health.py.)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa

from remediation_app.db import dispose_engines
from tests.support.databases import SqliteLock, TcpProxy
from tests.support.payloads import am_alert, notification

pytestmark = pytest.mark.anyio

# SQLite waits for its 5 s busy timeout before giving up; a refused TCP connection fails at once.
MAX_503_SECONDS = {"sqlite": 9.0, "postgres": 3.0}


class Outage:
    def __init__(self, kind: str, database_url: str) -> None:
        self.kind = kind
        self.lock = SqliteLock(database_url) if kind == "sqlite" else None
        self.proxy = TcpProxy() if kind == "postgres" else None

    def down(self) -> None:
        if self.lock is not None:
            self.lock.acquire()
        if self.proxy is not None:
            self.proxy.stop()

    def up(self) -> None:
        if self.lock is not None:
            self.lock.release()
        if self.proxy is not None:
            self.proxy.start()


@pytest.fixture
async def outage(db_kind, database_url, app_env) -> AsyncIterator[Outage]:
    fault = Outage(db_kind, database_url)
    if fault.proxy is not None:
        fault.proxy.start()
        app_env(DATABASE_URL=fault.proxy.url_for(database_url))
    try:
        yield fault
    finally:
        if fault.lock is not None:
            fault.lock.release()
        await dispose_engines()
        if fault.proxy is not None:
            fault.proxy.close()


async def test_503_while_the_database_is_down_and_the_retry_stores_everything(
    client, post_webhook, outage, db, db_kind
):
    before = await post_webhook(notification(am_alert("BeforeOutage", fingerprint="fp-before")))
    assert before.status_code == 200, before.text
    if outage.proxy is not None:
        assert outage.proxy.connections >= 1  # the app really goes through the proxy

    payload = notification(
        am_alert("DuringOutage", severity="critical", fingerprint="fp-during-1"),
        am_alert("DuringOutage", fingerprint="fp-during-2"),
    )
    outage.down()
    started = time.monotonic()
    webhook, listing, ready = await asyncio.gather(
        post_webhook(payload), client.get("/api/alerts"), client.get("/readyz")
    )
    elapsed = time.monotonic() - started
    assert webhook.status_code == 503, webhook.text
    assert webhook.headers["Retry-After"].isdigit()
    assert webhook.json() == {"error": "database unavailable, retry later"}
    assert elapsed < MAX_503_SECONDS[db_kind]
    if db_kind == "postgres":
        assert listing.status_code == 503 and listing.headers["Retry-After"]
        assert ready.status_code == 503
    else:  # a writer's lock does not stop WAL readers
        assert listing.status_code == 200 and listing.json()["total"] == 1
        assert ready.status_code == 200

    outage.up()
    retried = await post_webhook(payload)
    assert retried.status_code == 200, retried.text
    assert (retried.json()["created"], retried.json()["updated"]) == (2, 0)  # nothing half-stored before
    rows = {row["fingerprint"]: row for row in db.alerts()}
    assert set(rows) == {"fp-before", "fp-during-1", "fp-during-2"}
    assert all(row["times_notified"] == 1 for row in rows.values())
    assert rows["fp-during-1"]["action"] == "auto_analyze"
    assert db.count("notifications") == 2 and db.count("alert_notifications") == 3
    # The outage left no incident behind: the retry opened one, with both alerts.
    assert db.rows("SELECT title, alert_count FROM incidents ORDER BY id") == [
        {"title": "BeforeOutage", "alert_count": 1},
        {"title": "DuringOutage", "alert_count": 2},
    ]
    listing = await client.get("/api/alerts")
    assert listing.status_code == 200 and listing.json()["total"] == 3
    assert (await client.get("/readyz")).status_code == 200


@pytest.mark.pg
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_postgres_going_away_between_requests(client, post_webhook, outage, db):
    """Pooled connections die with the proxy; after it is back the pool recovers without a restart."""
    for round_ in range(3):
        r = await post_webhook(notification(am_alert(f"Round{round_}", fingerprint=f"fp-{round_}")))
        assert r.status_code == 200, r.text
        outage.down()
        assert (await client.get(f"/api/alerts/{round_ + 1}")).status_code == 503
        assert (await client.get("/api/incidents")).status_code == 503
        outage.up()
    assert db.count("alerts") == 3


@pytest.mark.pg
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_a_stuck_database_answers_503_within_the_statement_timeout(client, post_webhook, app_env, database_url):
    """A lock held elsewhere (or a database that stops answering) must not hang the webhook: PostgreSQL
    cancels the statement after DB_STATEMENT_TIMEOUT_SECONDS and Alertmanager gets a 503 to retry."""
    app_env(DB_STATEMENT_TIMEOUT_SECONDS="0.5")
    await dispose_engines()  # the pool's connections carry the timeout from their start
    payload = notification(am_alert("StuckDatabase", fingerprint="fp-stuck"))
    holder = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    try:
        with holder.connect() as conn:
            conn.execute(sa.text("LOCK TABLE alerts IN ACCESS EXCLUSIVE MODE"))
            started = time.monotonic()
            r = await post_webhook(payload)
            assert r.status_code == 503 and time.monotonic() - started < 5, (r.status_code, r.text)
            conn.rollback()  # the lock goes
        retried = await post_webhook(payload)
        assert retried.status_code == 200 and retried.json()["created"] == 1
    finally:
        holder.dispose()
        await dispose_engines()
