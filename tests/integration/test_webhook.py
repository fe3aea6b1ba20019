"""POST /webhook/alerts end to end, on SQLite and PostgreSQL: what is stored, and what is refused."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from remediation_app.db import async_session
from remediation_app.services.alertmanager.payload import NotificationIn
from remediation_app.services.alerts.ingest import ingest_notification, prune_notifications
from remediation_app.services.events import bus
from tests.support.payloads import am_alert, grafana_notification, newer_alertmanager_notification, notification

pytestmark = pytest.mark.anyio

T0 = "2026-01-01T00:00:00Z"


def as_utc(value: object) -> datetime:
    """A timestamp read back from either database, as an aware UTC datetime."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


async def test_notification_is_stored(post_webhook, db):
    alert = am_alert(
        "DiskFull",
        severity="Warning",
        instance="db-1:9100",
        fingerprint="fp-disk",
        starts_at="2026-01-01T01:00:00+01:00",
        labels={"team": "storage"},
        annotations={"description": "disk / is 95% full", "runbook_url": "http://runbooks/disk"},
    )
    r = await post_webhook(notification(alert, receiver="am-receiver"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "ok" and body["received"] == 1 and body["created"] == 1 and body["updated"] == 0
    assert body["by_action"] == {"manual": 1}

    [row] = db.alerts()
    assert row["fingerprint"] == "fp-disk"
    assert as_utc(row["starts_at"]) == datetime(2026, 1, 1, 0, 0, tzinfo=UTC)
    assert row["ends_at"] is None
    assert row["status"] == "firing"
    assert (row["alertname"], row["severity"], row["instance"], row["job"]) == (
        "DiskFull",
        "warning",
        "db-1:9100",
        "node",
    )
    assert row["summary"] == "DiskFull on db-1:9100"
    assert row["labels"] == alert["labels"]
    assert row["annotations"] == alert["annotations"]
    assert row["generator_url"] == alert["generatorURL"]
    assert row["receiver"] == "am-receiver"
    assert row["times_notified"] == 1
    assert row["action"] == "manual" and row["matched_rule_name"] == "Catch-all"

    [note] = db.rows("SELECT * FROM notifications")
    assert note["id"] == body["notification_id"]
    assert (note["receiver"], note["status"], note["alert_count"]) == ("am-receiver", "firing", 1)
    assert note["group_key"] == '{}:{alertname="DiskFull"}'
    [link] = db.rows("SELECT * FROM alert_notifications")
    assert (link["alert_id"], link["notification_id"], link["status"]) == (row["id"], note["id"], "firing")


async def test_summary_falls_back_to_description(post_webhook, db):
    alert = am_alert("NoSummary", annotations={"description": "only a description"})
    del alert["annotations"]["summary"]
    assert (await post_webhook(notification(alert))).status_code == 200
    assert db.alerts()[0]["summary"] == "only a description"


async def test_newer_alertmanager_and_grafana_payloads_are_stored(post_webhook, db):
    r = await post_webhook(newer_alertmanager_notification())
    assert r.status_code == 200, r.text
    r = await post_webhook(grafana_notification())
    assert r.status_code == 200, r.text
    rows = {row["fingerprint"]: row for row in db.alerts()}
    assert set(rows) == {"f00dfeedf00dfeed", "0a1b2c3d4e5f6a7b"}
    assert rows["0a1b2c3d4e5f6a7b"]["action"] == "auto_analyze"  # severity critical
    assert as_utc(rows["0a1b2c3d4e5f6a7b"]["starts_at"]) == datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


async def test_firing_then_resolved(client, post_webhook, db):
    alert = am_alert("DiskFull", severity="critical", fingerprint="abc123", starts_at=T0)
    r = await post_webhook(notification(alert))
    assert r.status_code == 200, r.text
    assert r.json()["created"] == 1 and r.json()["by_action"] == {"auto_analyze": 1}
    resolved = {**alert, "status": "resolved", "endsAt": "2026-01-01T00:10:00Z"}
    r = await post_webhook(notification(resolved))
    assert r.json()["updated"] == 1 and r.json()["created"] == 0
    [row] = db.alerts()
    assert row["status"] == "resolved"
    assert as_utc(row["ends_at"]) == datetime(2026, 1, 1, 0, 10, tzinfo=UTC)
    assert row["times_notified"] == 2
    items = (await client.get("/api/alerts")).json()
    assert items["total"] == 1
    assert items["items"][0]["status"] == "resolved"
    assert items["items"][0]["ends_at"].startswith("2026-01-01T00:10:00")
    assert items["items"][0]["times_notified"] == 2
    statuses = [link["status"] for link in db.rows("SELECT status FROM alert_notifications ORDER BY id")]
    assert statuses == ["firing", "resolved"]


async def test_redelivery_is_idempotent(post_webhook, db):
    payload = notification(am_alert("Redelivered", fingerprint="fp-1", starts_at=T0))
    first = await post_webhook(payload)
    second = await post_webhook(payload)
    assert first.status_code == second.status_code == 200
    assert (second.json()["created"], second.json()["updated"]) == (0, 1)
    [row] = db.alerts()
    assert row["times_notified"] == 2
    assert db.count("notifications") == 2
    assert db.count("alert_notifications") == 2


async def test_an_alert_is_identified_by_fingerprint_and_starts_at(post_webhook, db):
    await post_webhook(notification(am_alert("Flapping", fingerprint="fp-flap", starts_at=T0)))
    # The same instant written with another offset is the same alert.
    r = await post_webhook(
        notification(am_alert("Flapping", fingerprint="fp-flap", starts_at="2026-01-01T01:00:00+01:00"))
    )
    assert r.json()["updated"] == 1
    # Same fingerprint, new startsAt: it fired again, a new alert.
    r = await post_webhook(notification(am_alert("Flapping", fingerprint="fp-flap", starts_at="2026-01-01T05:00:00Z")))
    assert r.json()["created"] == 1
    # Same startsAt, another fingerprint: another alert.
    r = await post_webhook(notification(am_alert("Flapping", fingerprint="fp-other", starts_at=T0)))
    assert r.json()["created"] == 1
    rows = db.alerts()
    assert [(r["fingerprint"], r["times_notified"]) for r in rows] == [("fp-flap", 2), ("fp-flap", 1), ("fp-other", 1)]


async def test_alerts_without_fingerprint_are_identified_by_their_labels(post_webhook, db):
    one = am_alert("NoFingerprint", starts_at=T0)
    del one["fingerprint"]
    two = {**one, "labels": dict(reversed(list(one["labels"].items())))}
    await post_webhook(notification(one))
    r = await post_webhook(notification(two))
    assert r.json()["updated"] == 1
    [row] = db.alerts()
    assert row["times_notified"] == 2 and len(row["fingerprint"]) == 16


async def test_the_same_alert_twice_in_one_payload(post_webhook, db):
    firing = am_alert("Twice", fingerprint="fp-twice", starts_at=T0)
    resolved = {**firing, "status": "resolved", "endsAt": "2026-01-01T00:05:00Z"}
    r = await post_webhook(notification(firing, resolved))
    assert r.status_code == 200, r.text
    assert (r.json()["received"], r.json()["created"]) == (2, 1)
    [row] = db.alerts()
    assert row["status"] == "resolved"  # the last one in the payload wins
    assert row["times_notified"] == 1
    assert db.count("alert_notifications") == 1


async def test_resolved_without_firing_is_stored_and_only_new_firing_alerts_are_analyzed(app_settings, db):
    def payload(*alerts):
        return NotificationIn.model_validate(notification(*alerts))

    resolved_critical = am_alert(
        "GoneAlready", severity="critical", status="resolved", starts_at=T0, ends_at="2026-01-01T00:01:00Z"
    )
    firing_critical = am_alert("NewCritical", severity="critical", starts_at=T0)
    firing_warning = am_alert("NewWarning", severity="warning", starts_at=T0)
    async with async_session() as session:
        result = await ingest_notification(session, payload(resolved_critical, firing_critical, firing_warning))
        await session.commit()
    rows = {row["alertname"]: row for row in db.alerts()}
    assert rows["GoneAlready"]["status"] == "resolved"
    assert as_utc(rows["GoneAlready"]["ends_at"]) == datetime(2026, 1, 1, 0, 1, tzinfo=UTC)
    assert rows["GoneAlready"]["action"] == "auto_analyze"
    assert result.to_analyze == [rows["NewCritical"]["id"]]
    assert sorted(result.alert_ids) == sorted(r["id"] for r in rows.values())
    assert (result.created, result.updated) == (3, 0)
    assert result.by_action == {"auto_analyze": 2, "manual": 1}

    # A re-delivery of the firing critical alert is not new: nothing to analyse again.
    async with async_session() as session:
        again = await ingest_notification(session, payload(firing_critical))
        await session.commit()
    assert again.to_analyze == [] and again.updated == 1


async def test_ignored_alerts_are_stored_but_hidden_by_default(client, post_webhook, db):
    watchdog = am_alert("Watchdog", severity="none", starts_at=T0)
    r = await post_webhook(notification(watchdog, am_alert("Real", starts_at=T0)))
    assert r.json()["by_action"] == {"ignore": 1, "manual": 1}
    rows = {row["alertname"]: row for row in db.alerts()}
    assert rows["Watchdog"]["action"] == "ignore" and rows["Watchdog"]["matched_rule_name"] == "Watchdog"
    listed = (await client.get("/api/alerts")).json()
    assert [a["alertname"] for a in listed["items"]] == ["Real"] and listed["total"] == 1
    ignored = (await client.get("/api/alerts", params={"action": "ignore"})).json()
    assert [a["alertname"] for a in ignored["items"]] == ["Watchdog"] and ignored["total"] == 1
    detail = (await client.get(f"/api/alerts/{rows['Watchdog']['id']}")).json()
    assert detail["action"] == "ignore"


async def test_empty_alert_list_stores_nothing(post_webhook, db):
    r = await post_webhook(notification())
    assert r.status_code == 200, r.text
    assert r.json()["received"] == 0
    assert db.count("alerts") == 0 and db.count("notifications") == 0


async def test_event_is_published_after_commit(post_webhook, db):
    with bus.subscribe() as events:
        r = await post_webhook(notification(am_alert("Evented", fingerprint="fp-ev", starts_at=T0)))
        assert r.status_code == 200
        event = await asyncio.wait_for(events.get(), timeout=10)
    [row] = db.alerts()
    assert event == {"topic": "alerts", "ids": [row["id"]], "count": 1, "incident_id": row["incident_id"]}
    assert row["incident_id"] is not None  # the notification had a groupKey


async def test_concurrent_redeliveries_of_one_alert(post_webhook, db):
    payload = notification(am_alert("Concurrent", fingerprint="fp-concurrent", starts_at=T0))
    responses = await asyncio.gather(*(post_webhook(payload) for _ in range(10)))
    assert [r.status_code for r in responses] == [200] * 10
    assert sum(r.json()["created"] for r in responses) == 1
    [row] = db.alerts()
    assert row["times_notified"] == 10
    assert db.count("alert_notifications") == 10


async def test_concurrent_notifications_with_overlapping_alerts(post_webhook, db):
    """One alert can be in several groups sent at the same moment, in any order: no deadlock (503)."""
    alerts = [am_alert(f"Overlap{i % 7}", fingerprint=f"fp-{i:05d}", starts_at=T0) for i in range(1100)]
    forward, backward = notification(*alerts), notification(*reversed(alerts))
    responses = await asyncio.gather(post_webhook(forward), post_webhook(backward))
    assert [r.status_code for r in responses] == [200, 200], [r.text[:200] for r in responses]
    assert sum(r.json()["created"] for r in responses) == 1100
    assert sum(r.json()["updated"] for r in responses) == 1100
    assert {row["times_notified"] for row in db.alerts()} == {2}


async def test_old_notifications_are_pruned_and_alerts_kept(post_webhook, db):
    alert = am_alert("Pruned", fingerprint="fp-prune", starts_at=T0)
    for _ in range(2):
        assert (await post_webhook(notification(alert))).status_code == 200
    oldest = db.scalar("SELECT min(id) FROM notifications")
    db.execute("UPDATE notifications SET received_at = '2000-01-01 00:00:00' WHERE id = :id", id=oldest)
    async with async_session() as session:
        assert await prune_notifications(session, timedelta(days=30)) == 1
        await session.commit()
    assert [n["id"] for n in db.rows("SELECT id FROM notifications")] == [oldest + 1]
    assert [link["notification_id"] for link in db.rows("SELECT notification_id FROM alert_notifications")] == [
        oldest + 1
    ]
    [row] = db.alerts()
    assert row["times_notified"] == 2  # the alert itself stays


async def test_unauthorized(client, db):
    wrong = [
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": "Basic " + base64.b64encode(b"user:test-webhook-token").decode()},  # basic not set
        {"Authorization": "test-webhook-token"},  # no scheme
        {"Authorization": "Token test-webhook-token"},  # wrong scheme
    ]
    for headers in wrong:
        r = await client.post("/webhook/alerts", json=notification(am_alert()), headers=headers)
        assert r.status_code == 401, headers
        assert r.headers["WWW-Authenticate"] == 'Bearer realm="webhook", Basic realm="webhook"'
        assert r.json() == {"error": "missing or invalid webhook credentials"}
    assert db.count("alerts") == 0 and db.count("notifications") == 0


async def test_basic_auth(client, app_env, db):
    app_env(WEBHOOK_TOKEN=None, WEBHOOK_USERNAME="alertmanager", WEBHOOK_PASSWORD="hunter2")
    good = "Basic " + base64.b64encode(b"alertmanager:hunter2").decode()
    bad = "Basic " + base64.b64encode(b"alertmanager:hunter3").decode()
    r = await client.post("/webhook/alerts", json=notification(am_alert()), headers={"Authorization": bad})
    assert r.status_code == 401
    r = await client.post("/webhook/alerts", json=notification(am_alert()), headers={"Authorization": good})
    assert r.status_code == 200, r.text
    r = await client.post("/webhook/alerts", json=notification(am_alert()), auth=("alertmanager", "hunter2"))
    assert r.status_code == 200, r.text
    r = await client.post(
        "/webhook/alerts", json=notification(am_alert()), headers={"Authorization": "Basic é".encode()}
    )
    assert r.status_code == 401
    assert db.count("alerts") == 2


async def test_refused_when_no_credential_is_configured(client, app_env, auth, db):
    app_env(WEBHOOK_TOKEN=None)
    for headers in ({}, auth):
        r = await client.post("/webhook/alerts", json=notification(am_alert()), headers=headers)
        assert r.status_code == 401
    assert db.count("alerts") == 0
    app_env(WEBHOOK_ALLOW_UNAUTHENTICATED="true")
    r = await client.post("/webhook/alerts", json=notification(am_alert()))
    assert r.status_code == 200, r.text
    assert db.count("alerts") == 1


async def _chunks(data: bytes, size: int = 500) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def test_body_too_large(client, app_env, auth, db):
    app_env(WEBHOOK_MAX_BODY_BYTES="4096")
    small = json.dumps(notification(am_alert("Small"))).encode()
    big = json.dumps(notification(am_alert("Big", annotations={"description": "x" * 5000}))).encode()
    assert len(small) < 4096 < len(big)
    headers = {**auth, "Content-Type": "application/json"}

    r = await client.post("/webhook/alerts", content=big, headers=headers)
    assert r.status_code == 413 and "4096" in r.json()["error"]
    r = await client.post("/webhook/alerts", content=_chunks(big), headers=headers)
    assert "content-length" not in r.request.headers and r.request.headers["transfer-encoding"] == "chunked"
    assert r.status_code == 413
    # A Content-Length that understates the body does not get past the limit either.
    r = await client.post("/webhook/alerts", content=_chunks(big), headers={**headers, "Content-Length": "100"})
    assert r.status_code == 413
    assert db.count("alerts") == 0

    r = await client.post("/webhook/alerts", content=_chunks(small), headers=headers)
    assert r.status_code == 200, r.text
    r = await client.post("/webhook/alerts", content=small, headers=headers)
    assert r.status_code == 200, r.text
    assert db.count("alerts") == 1


async def test_malformed_json_is_400(post_webhook, db):
    r = await post_webhook(b'{"alerts": [')
    assert r.status_code == 400
    assert r.json()["error"] == "body is not valid JSON"
    assert db.count("notifications") == 0


async def test_invalid_payload_is_422_naming_the_field(post_webhook, db):
    bad = am_alert("NoStart")
    del bad["startsAt"]
    r = await post_webhook(notification(am_alert("Fine"), bad))
    assert r.status_code == 422
    assert r.json()["error"] == "not an Alertmanager webhook payload"
    assert [f["field"] for f in r.json()["fields"]] == ["alerts.1.startsAt"]
    r = await post_webhook(notification(am_alert("Fine", status="pending")))
    assert [f["field"] for f in r.json()["fields"]] == ["alerts.0.status"]
    assert db.count("alerts") == 0  # all or nothing
