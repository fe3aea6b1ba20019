"""Incidents on SQLite and PostgreSQL: notifications of one groupKey form one incident while any alert
fires (counts, severity, resolution, a new incident when the group fires again), two first
notifications at once open one incident, the timeline merges what the other tables record in time
order, and GET /api/incidents[/{id}] answer their shapes to users (and nobody else)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from remediation_app.db import async_session
from remediation_app.models import (
    AnalysisJob,
    ChatMessage,
    Conversation,
    DiagnosticProposal,
    Silence,
    TerminalSession,
    utcnow,
)
from remediation_app.services.alertmanager.payload import NotificationIn
from remediation_app.services.alerts.incidents import GROUP_KEY_MAX, incident_key
from remediation_app.services.alerts.ingest import ingest_notification, receive_notification
from tests.conftest import add_user, bearer_for
from tests.support.payloads import am_alert, notification

pytestmark = pytest.mark.anyio
T0, T1 = "2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z"


def grouped(*alerts: dict[str, Any], key: str = '{}:{alertname="DiskFull"}', **labels: str) -> dict[str, Any]:
    payload = notification(*alerts)
    payload["groupKey"] = key
    payload["groupLabels"] = labels or {"alertname": "DiskFull"}
    return payload


def disk(instance: str, *, status: str = "firing", severity: str = "warning", starts_at: str = T0) -> dict[str, Any]:
    return am_alert(
        "DiskFull",
        status=status,
        severity=severity,
        instance=instance,
        fingerprint=f"fp-{instance}",
        starts_at=starts_at,
        ends_at="2026-01-01T02:00:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
    )


async def incident(client: Any, incident_id: int) -> dict[str, Any]:
    r = await client.get(f"/api/incidents/{incident_id}")
    assert r.status_code == 200, r.text
    return r.json()


async def post(post_webhook: Any, payload: dict[str, Any]) -> None:
    r = await post_webhook(payload)
    assert r.status_code == 200, r.text


def test_long_group_keys_are_stored_as_their_hash():
    assert incident_key("k" * GROUP_KEY_MAX) == "k" * GROUP_KEY_MAX
    long_key = incident_key("k" * (GROUP_KEY_MAX + 1))
    assert long_key.startswith("sha256:") and len(long_key) == 71


async def test_severity_order(post_webhook, db):
    """critical > error > warning > info > anything else; of the firing alerts while any fires."""

    def sev(severity: str, status: str = "firing") -> dict[str, Any]:
        return disk(severity, severity=severity, status=status)

    await post(post_webhook, grouped(sev("page"), sev("info"), sev("error"), sev("warning")))
    assert db.scalar("SELECT severity FROM incidents") == "error"
    await post(post_webhook, grouped(sev("page"), sev("info"), sev("error", "resolved"), sev("warning")))
    assert db.scalar("SELECT severity FROM incidents") == "warning"
    await post(post_webhook, grouped(sev("critical"), key="other"))
    assert db.scalar("SELECT severity FROM incidents WHERE group_key = 'other'") == "critical"
    await post(post_webhook, grouped(disk("z", severity="page"), key="unknown"))
    assert db.scalar("SELECT severity FROM incidents WHERE group_key = 'unknown'") == "page"


async def test_a_group_is_one_incident_until_nothing_fires_then_a_new_one(post_webhook, client, db):
    await post(post_webhook, grouped(disk("a"), disk("b", severity="info"), team="storage", alertname="DiskFull"))
    [row] = db.rows("SELECT * FROM incidents")
    assert (row["status"], row["alert_count"], row["firing_count"], row["severity"]) == ("open", 2, 2, "warning")
    assert row["title"] == "DiskFull (team=storage)" and not row["storm"] and row["resolved_at"] is None
    first = row["id"]
    assert {a["incident_id"] for a in db.alerts()} == {first}

    # The group grows (a critical) and one alert resolves: same incident, recounted.
    await post(
        post_webhook, grouped(disk("a", status="resolved"), disk("b", severity="info"), disk("c", severity="critical"))
    )
    body = await incident(client, first)
    assert (body["status"], body["alert_count"], body["firing_count"], body["severity"]) == ("open", 3, 2, "critical")
    assert [a["status"] for a in body["alerts"]] == ["firing", "firing", "resolved"]  # firing first, most severe first
    assert body["alerts"][0]["severity"] == "critical" and body["alerts_not_shown"] == 0

    # Everything resolved: the incident resolves; its highest severity is of all it held.
    await post(post_webhook, grouped(*(disk(i, status="resolved") for i in "abc")))
    body = await incident(client, first)
    assert (body["status"], body["firing_count"], body["severity"]) == ("resolved", 0, "critical")
    assert body["resolved_at"] is not None
    # A late "resolved" again opens nothing.
    await post(post_webhook, grouped(disk("a", status="resolved")))
    assert db.count("incidents") == 1

    # The group fires again (a new start: a new alert row): a new incident; the old one keeps its alerts.
    await post(post_webhook, grouped(disk("a", starts_at=T1)))
    second = db.scalar("SELECT id FROM incidents WHERE status = 'open'")
    assert second != first
    assert db.scalar("SELECT count(*) FROM alerts WHERE incident_id = :i", i=first) == 3
    assert db.scalar("SELECT count(*) FROM alerts WHERE incident_id = :i", i=second) == 1

    # Without a groupKey there is no incident; another groupKey is another incident.
    bare = notification(am_alert("NoGroup"))
    bare["groupKey"] = ""
    await post(post_webhook, bare)
    assert db.scalar("SELECT incident_id FROM alerts WHERE alertname = 'NoGroup'") is None
    await post(post_webhook, grouped(am_alert("Other"), key="{}:{other}", alertname="Other"))
    assert db.count("incidents") == 3

    listed = (await client.get("/api/incidents", params={"status": "open", "limit": 1})).json()
    assert listed["total"] == 2 and len(listed["items"]) == 1
    assert listed["items"][0]["title"] == "Other"  # most recently notified first
    resolved = (await client.get("/api/incidents", params={"status": "resolved"})).json()
    assert [i["id"] for i in resolved["items"]] == [first]


async def test_an_alert_stays_in_the_open_incident_that_took_it(post_webhook, db):
    """Two receivers group one alert differently: it stays where it first went while that is open."""
    await post(post_webhook, grouped(disk("a"), disk("b"), key="route-1"))
    await post(post_webhook, grouped(disk("a"), key="route-2"))
    assert {a["incident_id"] for a in db.alerts()} == {
        db.scalar("SELECT id FROM incidents WHERE group_key = 'route-1'")
    }
    # route-2's incident got no alert: it is not kept.
    assert db.count("incidents") == 1


async def waiting_on_a_lock(db: Any) -> None:
    """Until a PostgreSQL backend waits on a lock (the second notification, behind the first's incident)."""
    deadline = asyncio.get_running_loop().time() + 20
    while not db.scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
    ):
        assert asyncio.get_running_loop().time() < deadline, "the second notification never waited"
        await asyncio.sleep(0.02)


async def test_first_notifications_of_a_group_at_once_open_one_incident(app_settings, db, db_kind):
    key = '{}:{alertname="Racing"}'

    def payload(name: str) -> NotificationIn:
        return NotificationIn.model_validate(grouped(am_alert("Racing", instance=name, fingerprint=name), key=key))

    # The first one's transaction holds its new incident (uncommitted) while the second one tries to
    # open the same (PostgreSQL: it waits on the unique index; SQLite: on the one writer's lock).
    async with async_session() as first:
        await ingest_notification(first, payload("first"))
        second = asyncio.create_task(receive_notification(payload("second")))
        if db_kind == "postgres":
            await waiting_on_a_lock(db)
        else:
            await asyncio.sleep(0)
        await first.commit()
    await second
    # Many at once.
    await asyncio.gather(*(receive_notification(payload(f"many-{i}")) for i in range(8)))
    [row] = db.rows("SELECT id, alert_count, firing_count FROM incidents")
    assert row["alert_count"] == row["firing_count"] == 10
    assert db.scalar("SELECT count(*) FROM alerts WHERE incident_id = :i", i=row["id"]) == 10


async def test_the_timeline_merges_everything_in_time_order(post_webhook, client, db):
    await post(post_webhook, grouped(disk("a"), disk("b")))
    incident_id = db.scalar("SELECT id FROM incidents")
    alert_a = db.scalar("SELECT id FROM alerts WHERE instance = 'a'")
    user = await add_user("timeline-user")
    # What follows happened between the first notification (an hour ago) and the resolution (now).
    base = utcnow() - timedelta(minutes=50)
    hour_ago = utcnow() - timedelta(hours=1)
    db.execute("UPDATE incidents SET opened_at = :t", t=hour_ago)
    db.execute("UPDATE notifications SET received_at = :t", t=hour_ago)

    def at(minutes: int) -> Any:
        return base + timedelta(minutes=minutes)

    async with async_session() as session:
        session.add(
            AnalysisJob(
                alert_id=alert_a,
                fingerprint="fp-a",
                status="failed",
                requested_by="rule:Critical",
                last_error="provider down",
                next_attempt_at=at(1),
                created_at=at(1),
                updated_at=at(2),
                finished_at=at(2),
            )
        )
        conversation = Conversation(
            alert_id=alert_a, user_id=user.id, username=user.username, created_at=at(3), updated_at=at(3)
        )
        session.add(conversation)
        await session.flush()
        session.add(
            ChatMessage(conversation_id=conversation.id, role="user", content="secret question", created_at=at(3))
        )
        session.add(ChatMessage(conversation_id=conversation.id, role="assistant", content="answer", created_at=at(4)))
        session.add(
            TerminalSession(
                user_id=user.id,
                username=user.username,
                server_name="db-1",
                alert_id=alert_a,
                started_at=at(5),
                ended_at=at(6),
                close_reason="closed by the user",
            )
        )
        session.add(
            Silence(
                alertmanager="environment",
                silence_id="s-1",
                alert_id=alert_a,
                kind="silence",
                matchers=[],
                comment="disk being replaced",
                created_by=user.username,
                starts_at=at(7),
                ends_at=at(67),
                created_at=at(7),
                state="expired",
                expired_at=at(8),
                expired_by="engine",
            )
        )
        session.add(
            Silence(
                alertmanager="environment",
                silence_id="s-2",
                alert_id=alert_a,
                kind="ack",
                matchers=[],
                created_by=user.username,
                starts_at=at(9),
                ends_at=at(99),
                created_at=at(9),
            )
        )
        session.add(
            DiagnosticProposal(
                alert_id=alert_a,
                server_name="db-1",
                command="df -h /var",
                status="done",
                created_at=at(10),
                expires_at=at(40),
                decided_by=user.username,
                decided_at=at(11),
                finished_at=at(12),
                exit_status=0,
            )
        )
        await session.commit()
    await post(post_webhook, grouped(disk("a", status="resolved"), disk("b", status="resolved")))

    body = await incident(client, incident_id)
    items = body["timeline"]
    assert [i["at"] for i in items] == sorted(i["at"] for i in items)
    kinds = [i["kind"] for i in items]
    assert kinds[0] == "opened" and kinds[1] == "notification" and kinds[-1] == "resolved"
    assert (
        kinds[2:-2]
        == ["analysis", "analysis", "chat", "terminal", "terminal", "silence", "silence", "ack"] + ["proposal"] * 3
    )
    texts = [i["text"] for i in items]
    assert "Analysis of DiskFull failed: provider down" in texts
    assert "Asked the assistant about DiskFull" in texts and not any("secret question" in t for t in texts)
    assert "Opened a terminal on db-1" in texts and "Closed the terminal on db-1 (closed by the user)" in texts
    assert any(t.startswith("Silenced DiskFull until ") and t.endswith(": disk being replaced") for t in texts)
    assert "Acknowledged DiskFull" in texts
    assert texts[-5:-2] == [
        "Proposed on db-1: df -h /var",
        "Approved: df -h /var",
        "Ran on db-1 (exit status 0): df -h /var",
    ]
    chat = next(i for i in items if i["kind"] == "chat")
    assert chat["who"] == "timeline-user" and chat["link"] == f"/alerts/{alert_a}"
    assert items[1]["text"] == "Notification (firing): 2 alerts" and items[1]["who"] == "remediation-engine"
    assert body["timeline_truncated"] is False


async def test_incident_api_shapes_roles_and_bad_input(post_webhook, client, anon, db):
    await post(post_webhook, grouped(disk("a"), disk("b")))
    incident_id = db.scalar("SELECT id FROM incidents")
    user = await add_user("incident-reader")
    as_user = await anon.get(f"/api/incidents/{incident_id}", headers=bearer_for(user))
    assert as_user.status_code == 200
    body = as_user.json()
    assert set(body) >= {"id", "title", "status", "severity", "alert_count", "firing_count", "storm", "alerts"}
    assert body["analysis"] == {"status": "none", "urgency": None} and body["group_analysis"] is None
    assert body["group_job"] is None and {a["incident_id"] for a in body["alerts"]} == {incident_id}
    alert_id = body["alerts"][0]["id"]
    assert (await client.get(f"/api/alerts/{alert_id}")).json()["incident_id"] == incident_id

    assert (await anon.get("/api/incidents")).status_code == 401
    assert (await anon.get(f"/api/incidents/{incident_id}")).status_code == 401
    assert (await client.get("/api/incidents/999999")).status_code == 404
    for bad in ("0", "-1", "abc", "99999999999999999999"):
        assert (await client.get(f"/api/incidents/{bad}")).status_code == 422, bad
    for params in ({"status": "firing"}, {"limit": 0}, {"limit": 101}, {"offset": -1}):
        assert (await client.get("/api/incidents", params=params)).status_code == 422, params
    assert (await client.get("/api/incidents", params={"offset": 50})).json() == {"items": [], "total": 1}
    # A hostile group label is stored and answered as text.
    await post(post_webhook, grouped(am_alert("X"), key="hostile", alertname="<script>alert(1)</script>"))
    titles = [i["title"] for i in (await client.get("/api/incidents")).json()["items"]]
    assert "<script>alert(1)</script>" in titles
    # Oversized: a groupKey past what an index entry holds, a group label of 10,000 characters.
    await post(post_webhook, grouped(am_alert("Big"), key="k" * 5000, alertname="Big", team="t" * 10_000))
    big = db.rows("SELECT group_key, title FROM incidents WHERE title LIKE 'Big%'")[0]
    assert big["group_key"].startswith("sha256:") and len(big["title"]) == 255 and big["title"].endswith("…")
    await post(post_webhook, grouped(am_alert("Big"), key="k" * 5000, alertname="Big"))  # the same group again
    assert db.scalar("SELECT count(*) FROM incidents WHERE title LIKE 'Big%'") == 1
