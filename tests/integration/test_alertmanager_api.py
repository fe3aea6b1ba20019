"""Silences and acks over the API against Debian's real Alertmanager: the silence appears there with
the right matchers and author and mutes the alert (and, after a sync, our row says so), expiring
works, an ack's silence is expired by the engine once the alert resolves, and an Alertmanager that
is down, slow or refusing gives a clear error and leaves nothing behind. Hostile input is refused
before anything is sent. The connections admins keep, and the sync loop's failures."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from remediation_app.services import metrics
from remediation_app.services.alertmanager.sync import sync_once
from tests.conftest import add_user, bearer_for, require_tool, sqlite_only
from tests.support.payloads import am_alert, notification
from tests.support.prom_faults import CannedServer, Reply, refused_url, silent_url
from tests.support.prometheus import Alertmanager, metric_value

pytestmark = [pytest.mark.anyio, pytest.mark.alertmanager]
DEADLINE_S = 15


@pytest.fixture(scope="module")
def alertmanager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Alertmanager]:
    """One real Alertmanager for the module; every test uses labels of its own."""
    config = {"route": {"receiver": "null"}, "receivers": [{"name": "null"}]}
    with Alertmanager(require_tool("prometheus-alertmanager"), tmp_path_factory.mktemp("am-silences"), config) as am:
        yield am  # type: ignore[misc]


def wait_for(what: str, probe: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + DEADLINE_S
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)


class Firing:
    """An alert firing in the real Alertmanager, and the same alert stored by our webhook."""

    def __init__(self, am: Alertmanager, alertname: str = "DiskWillFillSoon") -> None:
        self.am = am
        self.labels = {"alertname": alertname, "severity": "critical", "instance": "db-1:9100", "job": "node"}
        self.labels["run"] = uuid.uuid4().hex[:12]  # this test's own alert
        self.starts = datetime.now(UTC) - timedelta(minutes=1)
        self.post_to_alertmanager()
        self.fingerprint = wait_for(
            "the alert in Alertmanager", lambda: (self.in_alertmanager() or {}).get("fingerprint")
        )

    def post_to_alertmanager(self, ends: datetime | None = None) -> None:
        alert: dict[str, Any] = {"labels": self.labels, "startsAt": self.starts.isoformat()}
        if ends is not None:
            alert["endsAt"] = ends.isoformat()
        httpx.post(f"{self.am.url}/api/v2/alerts", json=[alert], timeout=5).raise_for_status()

    def status(self, key: str) -> Any:
        """The alert's `key` in Alertmanager ("fingerprint"), or in its status ("silencedBy", "state")."""
        alert = self.in_alertmanager() or {}
        return alert.get(key, alert.get("status", {}).get(key))

    def in_alertmanager(self) -> dict[str, Any] | None:
        alerts = httpx.get(f"{self.am.url}/api/v2/alerts", timeout=5).json()
        return next((a for a in alerts if a["labels"] == self.labels), None)

    def payload(self, status: str = "firing") -> dict[str, Any]:
        alert = am_alert(
            self.labels["alertname"],
            status=status,
            severity="critical",
            instance="db-1:9100",
            fingerprint=self.fingerprint,
            starts_at=self.starts.isoformat(),
            labels={"run": self.labels["run"]},
            ends_at=datetime.now(UTC).isoformat() if status == "resolved" else "0001-01-01T00:00:00Z",
        )
        body = notification(alert)
        body["externalURL"] = f"{self.am.url}/"
        return body


def am_silence(am: Alertmanager, silence_id: str) -> dict[str, Any]:
    return dict(httpx.get(f"{am.url}/api/v2/silence/{silence_id}", timeout=5).json())


async def stored(post_webhook, firing: Firing, status: str = "firing") -> int:
    """The alert's id once our webhook stored the notification."""
    from sqlmodel import select

    from remediation_app.db import async_session
    from remediation_app.models import Alert

    answer = await post_webhook(firing.payload(status))
    assert answer.status_code == 200, answer.text
    async with async_session() as session:
        alert = (await session.exec(select(Alert).where(Alert.fingerprint == firing.fingerprint))).one()
    assert alert.id is not None
    return alert.id


def silences_created() -> float:
    text = metrics.render().decode()
    return metric_value(text, "remediation_alertmanager_silences_total", lambda labels: '"created"' in labels)


def silence_rows(db) -> list[dict[str, Any]]:
    return db.rows("SELECT kind, state, silence_id, created_by, expired_by FROM silences ORDER BY id")


async def test_silence_mutes_the_alert_in_alertmanager_and_expires(
    client: httpx.AsyncClient, post_webhook, app_env, alertmanager: Alertmanager, db
) -> None:
    app_env(ALERTMANAGER_URL=alertmanager.url)
    firing = Firing(alertmanager)
    alert_id = await stored(post_webhook, firing)
    before = metric_value(
        metrics.render().decode(), "remediation_alertmanager_silences_total", lambda labels: "created" in labels
    )

    answer = await client.post(
        f"/api/alerts/{alert_id}/silence", json={"duration_minutes": 90, "comment": "  Disk swap tonight  "}
    )
    assert answer.status_code == 201, answer.text
    silence = answer.json()
    silence_id = silence["silence_id"]
    assert (silence["kind"], silence["state"], silence["created_by"]) == ("silence", "active", "test-admin")
    assert silence["comment"] == "Disk swap tonight" and silence["alertmanager"] == "environment"

    there = am_silence(alertmanager, silence_id)
    assert there["status"]["state"] == "active" and there["createdBy"] == "test-admin"
    assert there["comment"] == "Disk swap tonight"
    sent = {(m["name"], m["value"], m["isRegex"], m["isEqual"]) for m in there["matchers"]}
    assert sent == {(name, value, False, True) for name, value in firing.labels.items()}
    lasts = datetime.fromisoformat(there["endsAt"]) - datetime.fromisoformat(there["startsAt"])
    assert timedelta(minutes=89) < lasts <= timedelta(minutes=90, seconds=1)
    muted = wait_for(
        "Alertmanager to mute the alert", lambda: (firing.in_alertmanager() or {}).get("status", {}).get("silencedBy")
    )
    assert muted == [silence_id]

    report = await sync_once()
    assert alert_id in report.changed and not report.failed
    detail = (await client.get(f"/api/alerts/{alert_id}")).json()
    assert (detail["am_state"], detail["am_silenced_by"], detail["am_inhibited_by"]) == ("suppressed", [silence_id], [])
    assert detail["external_url"] == f"{alertmanager.url}/" and detail["am_synced_at"]
    covering = (await client.get(f"/api/alerts/{alert_id}/silences")).json()["items"]
    assert [(s["silence_id"], s["kind"], s["created_by"]) for s in covering] == [(silence_id, "silence", "test-admin")]
    after = metric_value(
        metrics.render().decode(), "remediation_alertmanager_silences_total", lambda labels: "created" in labels
    )
    assert after == before + 1

    expired = await client.delete(f"/api/silences/{silence_id}")
    assert expired.status_code == 200, expired.text
    assert (expired.json()["state"], expired.json()["expired_by"]) == ("expired", "test-admin")
    assert am_silence(alertmanager, silence_id)["status"]["state"] == "expired"
    again = await client.delete(f"/api/silences/{silence_id}")  # the same expiry twice: answered as it is
    assert again.status_code == 200 and again.json()["expired_at"] == expired.json()["expired_at"]
    wait_for(
        "the alert active again", lambda: (firing.in_alertmanager() or {}).get("status", {}).get("state") == "active"
    )
    await sync_once()
    assert (await client.get(f"/api/alerts/{alert_id}")).json()["am_state"] == "active"
    assert (await client.get(f"/api/alerts/{alert_id}/silences")).json()["items"] == []
    events = db.rows("SELECT action, actor, target FROM audit_events WHERE action LIKE 'silence.%' ORDER BY id")
    assert [(e["action"], e["actor"]) for e in events] == [
        ("silence.create", "test-admin"),
        ("silence.expire", "test-admin"),
    ]


async def test_matchers_chosen_by_the_user_and_a_silence_made_elsewhere(
    client: httpx.AsyncClient, post_webhook, app_env, alertmanager: Alertmanager, db
) -> None:
    app_env(ALERTMANAGER_URL=alertmanager.url)
    firing = Firing(alertmanager, "HighLatency")
    alert_id = await stored(post_webhook, firing)
    user = bearer_for(await add_user("oncall", "user"))  # a user's role is enough
    matchers = [
        {"name": "alertname", "value": "HighLatency"},
        {"name": "instance", "value": "db-[0-9]+:9100", "isRegex": True},
        {"name": "run", "value": firing.labels["run"]},
        {"name": "severity", "value": "info", "isEqual": False},
    ]
    answer = await client.post(
        f"/api/alerts/{alert_id}/silence",
        json={"duration_minutes": 5, "comment": "maint", "matchers": matchers},
        headers=user,
    )
    assert answer.status_code == 201, answer.text
    there = am_silence(alertmanager, answer.json()["silence_id"])
    assert there["createdBy"] == "oncall"
    assert {(m["name"], m["value"], m["isRegex"], m["isEqual"]) for m in there["matchers"]} == {
        ("alertname", "HighLatency", False, True),
        ("instance", "db-[0-9]+:9100", True, True),
        ("run", firing.labels["run"], False, True),
        ("severity", "info", False, False),
    }
    # Someone silences it in Alertmanager's own UI: listed as external, and expirable from here.
    now = datetime.now(UTC)
    outside = httpx.post(
        f"{alertmanager.url}/api/v2/silences",
        json={
            "matchers": [{"name": "run", "value": firing.labels["run"], "isRegex": False, "isEqual": True}],
            "startsAt": now.isoformat(),
            "endsAt": (now + timedelta(hours=1)).isoformat(),
            "createdBy": "karma-user",
            "comment": "from Karma",
        },
        timeout=5,
    ).json()["silenceID"]
    covering = (await client.get(f"/api/alerts/{alert_id}/silences", headers=user)).json()["items"]
    assert {(s["kind"], s["created_by"]) for s in covering} == {("silence", "oncall"), ("external", "karma-user")}
    expired = await client.delete(f"/api/silences/{outside}", headers=user)
    assert expired.status_code == 200, expired.text
    assert (expired.json()["kind"], expired.json()["created_by"], expired.json()["expired_by"]) == (
        "external",
        "karma-user",
        "oncall",
    )
    assert am_silence(alertmanager, outside)["status"]["state"] == "expired"


async def test_an_ack_is_expired_once_the_alert_resolves(
    client: httpx.AsyncClient, post_webhook, app_env, alertmanager: Alertmanager, db
) -> None:
    app_env(ALERTMANAGER_URL=alertmanager.url, ACK_MAX_HOURS="2")
    notified, muted = Firing(alertmanager, "AckedByNotification"), Firing(alertmanager, "AckedAndMuted")
    ids = [await stored(post_webhook, firing) for firing in (notified, muted)]
    acks = []
    for alert_id in ids:
        answer = await client.post(f"/api/alerts/{alert_id}/ack")
        assert answer.status_code == 201, answer.text
        acks.append(answer.json())
    assert acks[0]["kind"] == "ack" and acks[0]["comment"] == "Acknowledged by test-admin in Remediation Engine"
    there = am_silence(alertmanager, acks[0]["silence_id"])
    lasts = datetime.fromisoformat(there["endsAt"]) - datetime.fromisoformat(there["startsAt"])
    assert timedelta(minutes=119) < lasts <= timedelta(hours=2, seconds=1)
    detail = (await client.get(f"/api/alerts/{ids[0]}")).json()
    assert detail["acked_by"] == "test-admin" and detail["acked_at"]
    twice = await client.post(f"/api/alerts/{ids[0]}/ack")
    assert twice.status_code == 409 and "already acknowledged by test-admin" in twice.json()["error"]

    # One resolves and its resolved notification reaches us; the other resolves in Alertmanager
    # only (Alertmanager sends nothing for an alert a silence mutes): both acks end.
    for firing in (notified, muted):
        firing.post_to_alertmanager(ends=datetime.now(UTC))
    assert (await post_webhook(notified.payload("resolved"))).status_code == 200
    wait_for(
        "both resolved in Alertmanager", lambda: notified.in_alertmanager() is None and muted.in_alertmanager() is None
    )
    report = await sync_once()
    assert report.acks_expired == 2, report
    for ack in acks:
        assert am_silence(alertmanager, ack["silence_id"])["status"]["state"] == "expired"
    assert [(r["kind"], r["state"], r["expired_by"]) for r in silence_rows(db)] == [("ack", "expired", "engine")] * 2
    # Acknowledged no longer: the board and the alert page stop saying so.
    assert db.rows("SELECT acked_by, acked_at FROM alerts") == [{"acked_by": "", "acked_at": None}] * 2
    late = await client.post(f"/api/alerts/{ids[0]}/ack")
    assert late.status_code == 409 and "resolved" in late.json()["error"]
    assert (await sync_once()).acks_expired == 0  # nothing twice


@sqlite_only
async def test_an_alertmanager_down_slow_or_refusing_leaves_nothing_behind(
    client: httpx.AsyncClient, post_webhook, app_env, db
) -> None:
    firing_payload = notification(am_alert("Unreachable", severity="critical", fingerprint="0123456789abcdef"))
    assert (await post_webhook(firing_payload)).status_code == 200
    alert_id = db.rows("SELECT id FROM alerts")[0]["id"]
    body = {"duration_minutes": 30, "comment": "planned"}

    no_am = await client.post(f"/api/alerts/{alert_id}/silence", json=body)
    assert no_am.status_code == 409 and "no Alertmanager is configured" in no_am.json()["error"]
    with refused_url() as closed:
        app_env(ALERTMANAGER_URL=closed)
        for call in (
            client.post(f"/api/alerts/{alert_id}/silence", json=body),
            client.post(f"/api/alerts/{alert_id}/ack"),
            client.get(f"/api/alerts/{alert_id}/silences"),
        ):
            answer = await call
            assert answer.status_code == 503, answer.text
            assert answer.json()["error"] == (
                f"Alertmanager 'environment' at {closed}: connection refused (is it running, is the port right?)"
            )
    with silent_url() as hanging:
        app_env(ALERTMANAGER_URL=hanging, ALERTMANAGER_TIMEOUT_SECONDS="0.5")
        slow = await client.post(f"/api/alerts/{alert_id}/silence", json=body)
        assert slow.status_code == 504 and slow.json()["error"].endswith("no complete answer within 0.5 s")
    refusing = Reply(400, b'"silence invalid: start time must be before end time"\n')
    token = "am-token-very-secret-42"
    with CannedServer(refusing) as server:
        app_env(ALERTMANAGER_URL=server.url, ALERTMANAGER_BEARER_TOKEN=token, ALERTMANAGER_TIMEOUT_SECONDS=None)
        refused = await client.post(f"/api/alerts/{alert_id}/silence", json=body)
        assert refused.status_code == 400
        assert refused.json()["error"] == (
            f"Alertmanager 'environment' at {server.url}: refused (HTTP 400): "
            "silence invalid: start time must be before end time"
        )
        assert server.requests[0].headers["Authorization"] == f"Bearer {token}"
    with CannedServer(Reply(500, b"internal error: " + token.encode())) as broken:
        app_env(ALERTMANAGER_URL=broken.url)
        failed = await client.post(f"/api/alerts/{alert_id}/ack")
        assert failed.status_code == 502 and token not in failed.text and "***" in failed.text
    assert db.rows("SELECT * FROM silences") == []
    assert db.rows("SELECT * FROM audit_events WHERE action LIKE 'silence.%' OR action = 'alert.ack'") == []
    assert db.rows("SELECT acked_by FROM alerts") == [{"acked_by": ""}]


# Counted repetitions RE2 would unroll into 18,000 instructions (a backtracking bomb such as (a+)+b
# is harmless under RE2, which matches in linear time, and is accepted).
REGEX_BOMB = ".{0,1000}x.{0,1000}"


def matching(*matchers: dict[str, Any]) -> dict[str, Any]:
    return {"duration_minutes": 30, "comment": "c", "matchers": list(matchers)}


PLAIN = {"name": "alertname", "value": "Hostile"}


def regex(value: str) -> dict[str, Any]:
    return {"name": "b", "value": value, "isRegex": True}


@sqlite_only
@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"duration_minutes": 30, "comment": ""}, 400, "comment"),
        ({"duration_minutes": 30, "comment": "   \n "}, 400, "comment"),
        ({"duration_minutes": 30, "comment": "x" * 2001}, 422, "comment"),
        ({"duration_minutes": 30, "comment": "a\x00b"}, 400, "control characters"),
        ({"duration_minutes": 0, "comment": "c"}, 422, "duration_minutes"),
        ({"duration_minutes": 60 * 24 * 31, "comment": "c"}, 400, "SILENCE_MAX_DAYS"),
        ({"duration_minutes": 1.5, "comment": "c"}, 422, "duration_minutes"),
        ({"duration_minutes": True, "comment": "c"}, 422, "duration_minutes"),
        ({"duration_minutes": "30", "comment": "c"}, 422, "duration_minutes"),
        ({"comment": "c"}, 422, "duration_minutes"),
        (matching(), 400, "at least one"),
        (matching({"name": "alertname", "value": ".*", "isRegex": True}), 400, "every alert"),
        (matching({"name": "alertname", "value": "x", "isEqual": False}), 400, "every alert"),
        (matching({"name": "alertname", "value": ""}), 400, "every alert"),
        (matching({"name": "bad-name", "value": "x"}), 400, "not a label name"),
        (matching(PLAIN, regex("(")), 400, "matcher 2 (b): invalid regular expression"),
        (matching(PLAIN, regex("(?=x)")), 400, "RE2"),
        (matching(PLAIN, regex("a{1000}{1000}")), 400, "matcher 2"),
        (matching(PLAIN, regex(REGEX_BOMB)), 400, "too complex"),
        (matching({"name": "a", "value": "x\x00"}), 400, "cannot be stored"),
        (matching({"name": "a", "value": "x" * 1025}), 422, "value"),
        (matching(*({"name": f"l{i}", "value": "x"} for i in range(31))), 422, "matchers"),
        (matching({"name": "a", "value": "x", "surprise": 1}), 422, "surprise"),
        ({"duration_minutes": 30, "comment": "c", "extra": True}, 422, "extra"),
    ],
)
async def test_bad_silences_are_refused_before_anything_is_sent(
    client: httpx.AsyncClient, post_webhook, app_env, db, body, status, says
) -> None:
    with CannedServer(Reply(200, b'{"silenceID": "never"}')) as server:
        app_env(ALERTMANAGER_URL=server.url)
        assert (await post_webhook(notification(am_alert("Hostile")))).status_code == 200
        alert_id = db.rows("SELECT id FROM alerts")[0]["id"]
        answer = await client.post(f"/api/alerts/{alert_id}/silence", json=body)
        assert answer.status_code == status, answer.text
        assert says in answer.text
        assert server.requests == [] and db.rows("SELECT * FROM silences") == []


@sqlite_only
async def test_unknown_alerts_silences_malformed_requests_and_anonymous(
    client: httpx.AsyncClient, anon: httpx.AsyncClient, app_env, db
) -> None:
    with CannedServer(Reply(200, b"[]")) as server:
        app_env(ALERTMANAGER_URL=server.url)
        body = {"duration_minutes": 30, "comment": "c"}
        assert (await client.post("/api/alerts/4242/silence", json=body)).status_code == 404
        assert (await client.post("/api/alerts/4242/ack")).status_code == 404
        assert (await client.get("/api/alerts/4242/silences")).status_code == 404
        assert (await client.post("/api/alerts/0/silence", json=body)).status_code == 422
        assert (await client.post("/api/alerts/99999999999/ack")).status_code == 422
        bad_json = await client.post(
            "/api/alerts/1/silence", content=b"{bad", headers={"Content-Type": "application/json"}
        )
        assert bad_json.status_code == 422
        assert (await client.post("/api/alerts/1/silence", json=[1, 2])).status_code == 422
        unknown = await client.delete("/api/silences/00000000-0000-0000-0000-000000000000")
        assert unknown.status_code == 404 and unknown.json()["error"] == "no such silence"
        assert (await client.delete("/api/silences/..%2F..%2Fetc")).status_code == 404
        assert (await client.delete("/api/silences/" + "a" * 65)).status_code == 422
        for call in (
            anon.post("/api/alerts/1/silence", json=body),
            anon.post("/api/alerts/1/ack"),
            anon.get("/api/alerts/1/silences"),
            anon.delete("/api/silences/abc"),
        ):
            assert (await call).status_code == 401
        # Only the unknown silence was looked for (GET /api/v2/silences); nothing was created.
        assert {(r.method, r.path) for r in server.requests} == {("GET", "/api/v2/silences")}
    assert db.rows("SELECT * FROM silences") == []


# ---- connections (admins)


TOKEN = "am-connection-token-very-secret"


def connection(**changes: object) -> dict[str, object]:
    return {"name": "am-main", "url": "http://am.example:9093", "auth": "bearer", "secret": TOKEN, **changes}


async def test_connections_are_admins_only_with_a_write_only_credential_and_a_real_test(
    client: httpx.AsyncClient, anon: httpx.AsyncClient, app_env, alertmanager: Alertmanager, db
) -> None:
    app_env(ALERTMANAGER_URL=alertmanager.url)
    created = await client.post(
        "/api/alertmanagers", json=connection(external_url="https://am.example/", is_default=True)
    )
    assert created.status_code == 201, created.text
    row = created.json()
    assert (row["external_url"], row["has_secret"], row["is_default"]) == ("https://am.example/", True, True)
    listing = (await client.get("/api/alertmanagers")).json()["items"]
    assert [(c["id"], c["name"], c["source"]) for c in listing] == [
        (0, "environment", "environment"),
        (row["id"], "am-main", "database"),
    ]
    assert TOKEN not in created.text + str(listing) + str(db.rows("SELECT secret_ciphertext FROM alertmanagers"))
    refused = await client.put(f"/api/alertmanagers/{row['id']}", json=connection(external_url="am.example"))
    assert refused.status_code == 422 and refused.json()["field"] == "external_url", refused.text
    named_env = await client.post("/api/alertmanagers", json=connection(name="environment"))
    assert named_env.status_code == 422 and "ALERTMANAGER_URL" in named_env.json()["error"]

    passed = (await client.post("/api/alertmanagers/0/test")).json()
    assert passed == {"ok": True, "version": "0.25.0", "cluster": "disabled"}
    with refused_url() as closed:
        moved = await client.put(f"/api/alertmanagers/{row['id']}", json=connection(url=closed))
        assert moved.status_code == 200, moved.text
        failed = (await client.post(f"/api/alertmanagers/{row['id']}/test")).json()
    assert failed == {
        "ok": False,
        "error": f"Alertmanager 'am-main' at {closed}: connection refused (is it running, is the port right?)",
    }
    user = bearer_for(await add_user("plain-user", "user"))
    for headers, status in ((user, 403), ({}, 401)):
        for call in (
            anon.get("/api/alertmanagers", headers=headers),
            anon.post("/api/alertmanagers", json=connection(name="x"), headers=headers),
            anon.delete(f"/api/alertmanagers/{row['id']}", headers=headers),
            anon.post("/api/alertmanagers/0/test", headers=headers),
        ):
            assert (await call).status_code == status
    assert (await client.delete(f"/api/alertmanagers/{row['id']}")).status_code == 204
    actions = [
        e["action"] for e in db.rows("SELECT action FROM audit_events WHERE action LIKE 'alertmanager.%' ORDER BY id")
    ]
    assert actions == ["alertmanager.create", "alertmanager.update", "alertmanager.delete"]


@sqlite_only
async def test_an_alert_goes_to_the_alertmanager_its_notification_named(client: httpx.AsyncClient, app_env) -> None:
    from remediation_app.db import async_session
    from remediation_app.services.alertmanager.connections import for_external_url

    async def picked(external_url: str) -> str | None:
        async with async_session() as session:
            config = await for_external_url(session, external_url)
        return config.name if config is not None else None

    assert await picked("http://am-a:9093/") is None
    app_env(ALERTMANAGER_URL="http://am-env:9093")
    assert await picked("http://anything:9093/") == "environment"
    for body in (
        connection(name="a", url="http://am-a:9093", auth="none", secret=None),
        connection(name="b", url="http://10.0.0.2:9093", external_url="https://alerts.example/am", auth="none"),
        connection(name="fallback", url="http://am-c:9093", auth="none", is_default=True),
    ):
        assert (await client.post("/api/alertmanagers", json=body)).status_code == 201
    assert await picked("http://am-a:9093/") == "a"
    assert await picked("http://AM-A:9093") == "a"
    assert await picked("https://alerts.example/am/") == "b"
    assert await picked("https://alerts.example:443/am/#/alerts") == "b"
    assert await picked("https://alerts.example/other/") == "fallback"
    assert await picked("http://am-env:9093/") == "environment"
    assert await picked("") == "fallback"


@sqlite_only
async def test_the_sync_logs_a_failing_alertmanager_once_and_recovers(
    client: httpx.AsyncClient, app_env, alertmanager: Alertmanager, caplog: pytest.LogCaptureFixture
) -> None:
    def failures() -> float:
        text = metrics.render().decode()
        return metric_value(text, "remediation_alertmanager_syncs_total", lambda labels: '"error"' in labels)

    caplog.set_level(logging.INFO)
    before = failures()
    with refused_url() as closed:
        app_env(ALERTMANAGER_URL=closed)
        reports = [await sync_once(), await sync_once()]
    assert all(set(report.failed) == {"environment"} for report in reports)
    assert failures() == before + 2
    app_env(ALERTMANAGER_URL=alertmanager.url)
    assert (await sync_once()).failed == {}
    # Only the sync speaks (the client is quiet in the loop): once when it fails, once when it recovers.
    said = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO and "alertmanager" in r.name]
    why = "connection refused (is it running, is the port right?)"
    assert said == [
        f"alertmanager sync failed: Alertmanager 'environment' at {closed}: {why}",
        "alertmanager sync recovered",
    ]
