"""Hostile and maximum-size webhook payloads against a real server (granian serving the API on a
loopback port), on SQLite and PostgreSQL: while one is matched against the rules and stored, the
event loop keeps answering /healthz, and every alert is stored.

The attack (issue 11): a common rule (`instance: '*db*prod*'`) and alerts whose instance is 5,000
characters long froze the whole app (a backtracking matcher on the event loop: 900 alerts, 50 s).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from remediation_app.db import async_session, dispose_engines
from remediation_app.models import Rule
from remediation_app.services.alertmanager.payload import NotificationIn
from remediation_app.services.alerts.ingest import OFF_LOOP_ALERTS, receive_notification
from remediation_app.services.rules.engine import RuleSet, save_rule
from remediation_app.settings import get_settings
from tests.conftest import WEBHOOK_TOKEN, sqlite_only
from tests.support.api_server import ApiServer
from tests.support.databases import DatabaseProbe
from tests.support.payloads import am_alert, notification

pytestmark = pytest.mark.anyio

PROBE_MAX_S = 2.0  # a generous bound: /healthz answers in milliseconds when the loop is free
PROBE_GIVE_UP_S = 10.0  # no need to wait out a frozen server to know the test failed
POST_TIMEOUT_S = 300.0
T0 = "2026-01-01T00:00:00Z"


@pytest.fixture
def api(app_settings: str, tmp_path: Path) -> Iterator[ApiServer]:
    with ApiServer(log=tmp_path / "api.log") as server:
        yield server


async def add_prod_db_rule() -> None:
    """The common rule of the attack, tried first so that every alert meets it."""
    async with async_session() as session:
        rule = Rule(name="prod databases", priority=1, instance_pattern="*db*prod*", action="auto_analyze")
        await save_rule(session, rule, actor="test")
        await session.commit()
    await dispose_engines()


def alert(i: int, instance: str) -> dict[str, Any]:
    return am_alert("DatabaseSlow", instance=instance, fingerprint=f"load-{i:06d}", starts_at=T0)


def long_instances(count: int, length: int) -> list[str]:
    """`count` instances of `length` characters, "db" over and over but never "prod" after it (a
    backtracking matcher tries every "db"), except every hundredth, which matches early enough to
    be seen (within the first 4096 characters)."""
    instances = []
    for i in range(count):
        head = f"db-{i}-prod-" if i % 100 == 0 else f"prod-{i}-"
        instances.append(head + "db" * ((length - len(head)) // 2))
    return instances


async def post_while_probing(server: ApiServer, body: bytes) -> tuple[httpx.Response, list[float]]:
    """POST the body and, until its answer arrives, call /healthz back to back: the probes cover the
    whole time the server spends reading, parsing, matching and storing the payload."""
    headers = {"Authorization": f"Bearer {WEBHOOK_TOKEN}", "Content-Type": "application/json"}
    async with (
        httpx.AsyncClient(base_url=server.url, timeout=POST_TIMEOUT_S) as sender,
        httpx.AsyncClient(base_url=server.url, timeout=PROBE_GIVE_UP_S) as prober,
    ):
        post = asyncio.create_task(sender.post("/webhook/alerts", content=body, headers=headers))
        latencies: list[float] = []
        try:
            while not post.done():
                started = time.perf_counter()
                try:
                    probe = await prober.get("/healthz")
                except httpx.TimeoutException:
                    pytest.fail(f"/healthz gave no answer within {PROBE_GIVE_UP_S} s while the webhook ingested")
                latencies.append(time.perf_counter() - started)
                assert probe.status_code == 200, probe.text
            return await post, latencies
        finally:
            post.cancel()


def assert_stored(response: httpx.Response, db: DatabaseProbe, instances: list[str]) -> None:
    assert response.status_code == 200, response.text[:500]
    hits = sum(1 for i in range(len(instances)) if i % 100 == 0)
    body = response.json()
    assert (body["received"], body["created"]) == (len(instances), len(instances))
    assert body["by_action"] == {"auto_analyze": hits, "manual": len(instances) - hits}
    assert db.scalar("SELECT count(*) FROM alerts WHERE fingerprint LIKE 'load-%'") == len(instances)
    decided = db.rows("SELECT action, matched_rule_name FROM alerts WHERE fingerprint = 'load-000100'")
    assert decided == [{"action": "auto_analyze", "matched_rule_name": "prod databases"}]


def assert_responsive(latencies: list[float]) -> None:
    assert len(latencies) >= 2, latencies  # the payload took at least a couple of probes' time
    slowest = max(latencies)
    assert slowest < PROBE_MAX_S, f"/healthz took {slowest:.2f} s while the webhook ingested ({len(latencies)} probes)"


async def test_long_label_values_do_not_freeze_the_app(api: ApiServer, db: DatabaseProbe) -> None:
    await add_prod_db_rule()
    instances = long_instances(900, 5000)
    body = json.dumps(notification(*(alert(i, instance) for i, instance in enumerate(instances)))).encode()
    response, latencies = await post_while_probing(api, body)
    assert_stored(response, db, instances)
    assert_responsive(latencies)


async def test_a_payload_near_the_body_limit_does_not_freeze_the_app(api: ApiServer, db: DatabaseProbe) -> None:
    await add_prod_db_rule()
    limit = get_settings().webhook_max_body_bytes
    # Alerts of about 6.4 KB (the instance is in a label and in the summary), as many as fit.
    one = len(json.dumps(alert(0, long_instances(1, 3000)[0])))
    instances = long_instances((limit - 2048) // (one + 2), 3000)
    body = json.dumps(notification(*(alert(i, instance) for i, instance in enumerate(instances)))).encode()
    assert 0.97 * limit < len(body) <= limit
    response, latencies = await post_while_probing(api, body)
    assert_stored(response, db, instances)
    assert_responsive(latencies)


def threads_of(monkeypatch: pytest.MonkeyPatch) -> dict[str, set[int]]:
    """Record which threads parse payloads and decide alerts."""
    seen: dict[str, set[int]] = {"parse": set(), "decide": set()}
    validate, decide = NotificationIn.model_validate, RuleSet.decide

    def spy_validate(cls: type[NotificationIn], obj: Any, *args: Any, **kwargs: Any) -> NotificationIn:
        seen["parse"].add(threading.get_ident())
        return validate(obj, *args, **kwargs)

    def spy_decide(self: RuleSet, labels: Any) -> Any:
        seen["decide"].add(threading.get_ident())
        return decide(self, labels)

    monkeypatch.setattr(NotificationIn, "model_validate", classmethod(spy_validate))
    monkeypatch.setattr(RuleSet, "decide", spy_decide)
    return seen


@sqlite_only
@pytest.mark.parametrize(("alerts", "large"), [(10, False), (900, True)])
async def test_a_large_payload_is_parsed_and_decided_off_the_event_loop(
    post_webhook: Any, monkeypatch: pytest.MonkeyPatch, db: DatabaseProbe, alerts: int, large: bool
) -> None:
    seen = threads_of(monkeypatch)
    body = json.dumps(notification(*(am_alert(f"A{i}", starts_at=T0) for i in range(alerts)))).encode()
    assert (len(body) > 64 * 1024) is large
    response = await post_webhook(body)
    assert response.status_code == 200, response.text[:500]
    assert response.json()["created"] == alerts == db.count("alerts")
    loop_thread = threading.get_ident()  # the in-process app runs on this test's event loop
    if large:
        assert seen["parse"] and loop_thread not in seen["parse"]
        assert seen["decide"] and loop_thread not in seen["decide"]
    else:  # a small payload stays on the loop: a hand-off would cost more than the work
        assert seen == {"parse": {loop_thread}, "decide": {loop_thread}}


@sqlite_only
async def test_many_alerts_are_decided_off_the_event_loop_whoever_ingests_them(
    app_settings: str, monkeypatch: pytest.MonkeyPatch, db: DatabaseProbe
) -> None:
    payload = NotificationIn.model_validate(
        notification(*(am_alert(f"A{i}", starts_at=T0) for i in range(OFF_LOOP_ALERTS + 1)))
    )
    seen = threads_of(monkeypatch)
    result = await receive_notification(payload)
    await dispose_engines()
    assert result.created == OFF_LOOP_ALERTS + 1 == db.count("alerts")
    assert seen["decide"] and threading.get_ident() not in seen["decide"]
