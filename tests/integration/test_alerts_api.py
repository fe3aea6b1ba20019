"""GET /api/alerts and /api/alerts/{id}, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from tests.support.payloads import am_alert, notification

pytestmark = pytest.mark.anyio

T0 = "2026-01-01T00:00:00Z"


async def seed(post_webhook, *alerts):
    """Post each alert in its own notification, in order (so the last is the newest)."""
    for alert in alerts:
        r = await post_webhook(notification(alert))
        assert r.status_code == 200, r.text


async def names(client, **params) -> list[str]:
    r = await client.get("/api/alerts", params=params)
    assert r.status_code == 200, r.text
    return [a["alertname"] for a in r.json()["items"]]


@pytest.fixture
async def corpus(post_webhook):
    await seed(
        post_webhook,
        am_alert("DiskFull", severity="critical", instance="db-1:9100", starts_at=T0),
        am_alert("HighCPU", severity="warning", instance="web-1:9100", starts_at=T0),
        am_alert(
            "MemoryLow",
            status="resolved",
            severity="Warning",
            instance="web-2:9100",
            starts_at=T0,
            ends_at="2026-01-01T01:00:00Z",
            annotations={"summary": "memory 100% used on web_2"},
        ),
        am_alert("Watchdog", severity="none", instance="prom:9090", starts_at=T0),
        am_alert("Disk_Full", severity="info", instance="db-2:9100", starts_at=T0),
    )


async def test_list_is_newest_first_and_hides_ignored(client, corpus):
    r = await client.get("/api/alerts")
    assert r.status_code == 200
    body = r.json()
    assert body["total"] == 4
    assert [a["alertname"] for a in body["items"]] == ["Disk_Full", "MemoryLow", "HighCPU", "DiskFull"]
    item = body["items"][0]
    assert set(item) >= {"id", "fingerprint", "status", "alertname", "severity", "instance", "job", "summary"}
    assert set(item) >= {"action", "starts_at", "ends_at", "first_received_at", "last_received_at", "times_notified"}
    assert item["analysis"] == {"status": "none", "urgency": None}


async def test_a_redelivered_alert_moves_to_the_top(client, post_webhook):
    first = am_alert("First", starts_at=T0)
    await seed(post_webhook, first, am_alert("Second", starts_at=T0))
    assert await names(client) == ["Second", "First"]
    await seed(post_webhook, first)
    assert await names(client) == ["First", "Second"]


FILTERS = [
    ({"status": "firing"}, ["Disk_Full", "HighCPU", "DiskFull"]),
    ({"status": "resolved"}, ["MemoryLow"]),
    ({"severity": "warning"}, ["MemoryLow", "HighCPU"]),  # stored lower case
    ({"severity": "CRITICAL"}, ["DiskFull"]),
    ({"action": "auto_analyze"}, ["DiskFull"]),
    ({"action": "manual"}, ["Disk_Full", "MemoryLow", "HighCPU"]),
    ({"action": "ignore"}, ["Watchdog"]),
    ({"q": "disk"}, ["Disk_Full", "DiskFull"]),  # alertname, case-insensitive
    ({"q": "web-"}, ["MemoryLow", "HighCPU"]),  # instance
    ({"q": "MEMORY 100"}, ["MemoryLow"]),  # summary
    ({"q": "  cpu  "}, ["HighCPU"]),  # trimmed
    ({"q": "%"}, ["MemoryLow"]),  # LIKE wildcards are literal
    ({"q": "_"}, ["Disk_Full", "MemoryLow"]),
    ({"q": "Disk_"}, ["Disk_Full"]),
    ({"q": "k_F"}, ["Disk_Full"]),
    ({"q": "\\"}, []),
    ({"q": "nothing-like-this"}, []),
    ({"status": "firing", "severity": "warning", "q": "web"}, ["HighCPU"]),
    ({"status": "resolved", "action": "auto_analyze"}, []),
    ({"q": ""}, ["Disk_Full", "MemoryLow", "HighCPU", "DiskFull"]),
]


async def test_filters(client, corpus):
    # One database for every case: seeding per case would be slow.
    for params, expected in FILTERS:
        r = await client.get("/api/alerts", params=params)
        assert r.status_code == 200, (params, r.text)
        assert [a["alertname"] for a in r.json()["items"]] == expected, params
        assert r.json()["total"] == len(expected), params


async def test_nul_in_query_parameters(client, post_webhook):
    """A NUL is stored as U+FFFD; searching for one must find it, not make PostgreSQL fail."""
    await seed(post_webhook, am_alert("Nul\x00Name", severity="crit\x00", starts_at=T0), am_alert("Other"))
    assert await names(client, q="\x00") == ["Nul\ufffdName"]
    assert await names(client, q="l\x00N") == ["Nul\ufffdName"]
    assert await names(client, severity="CRIT\x00") == ["Nul\ufffdName"]
    assert await names(client, q="x\x00y") == []


async def test_pagination(client, post_webhook):
    await seed(post_webhook, *(am_alert(f"A{i}", starts_at=T0) for i in range(7)))
    pages = []
    for offset in (0, 3, 6, 9):
        r = await client.get("/api/alerts", params={"limit": 3, "offset": offset})
        assert r.status_code == 200
        assert r.json()["total"] == 7
        pages.append([a["alertname"] for a in r.json()["items"]])
    assert pages == [["A6", "A5", "A4"], ["A3", "A2", "A1"], ["A0"], []]
    r = await client.get("/api/alerts", params={"limit": 2, "offset": 1, "q": "A"})
    assert [a["alertname"] for a in r.json()["items"]] == ["A5", "A4"] and r.json()["total"] == 7


BAD_LIST_PARAMETERS = [
    {"status": "pending"},
    {"action": "delete"},
    {"limit": 0},
    {"limit": 101},
    {"limit": "ten"},
    {"offset": -1},
    {"offset": "x"},
    {"q": "x" * 201},
    {"severity": "s" * 256},
    {"analysis": "pending"},
]


async def test_bad_list_parameters_are_422(client):
    for params in BAD_LIST_PARAMETERS:
        r = await client.get("/api/alerts", params=params)
        assert r.status_code == 422, (params, r.text)
        assert r.json()["detail"][0]["loc"][:1] == ["query"], params


async def test_detail(client, post_webhook, db):
    alert = am_alert(
        "DiskFull",
        severity="critical",
        fingerprint="fp-detail",
        starts_at=T0,
        labels={"team": "storage"},
        annotations={"runbook_url": "http://runbooks/disk"},
    )
    await seed(post_webhook, alert, {**alert, "status": "resolved", "endsAt": "2026-01-01T00:30:00Z"})
    [row] = db.alerts()
    r = await client.get(f"/api/alerts/{row['id']}")
    assert r.status_code == 200, r.text
    detail = r.json()
    assert detail["id"] == row["id"] and detail["fingerprint"] == "fp-detail"
    assert detail["labels"] == alert["labels"]
    assert detail["annotations"] == alert["annotations"]
    assert detail["status"] == "resolved" and detail["ends_at"].startswith("2026-01-01T00:30:00")
    assert detail["starts_at"].startswith("2026-01-01T00:00:00")
    assert detail["generator_url"] == alert["generatorURL"]
    assert detail["receiver"] == "remediation-engine"
    rule = detail["matched_rule"]
    assert rule["name"] == "Critical" and isinstance(rule["id"], int)
    assert "severity 'critical' matches 'critical'" in rule["reason"]
    timeline = detail["timeline"]
    assert [t["status"] for t in timeline] == ["resolved", "firing"]  # newest first
    assert timeline[0]["received_at"] >= timeline[1]["received_at"]
    notes = [n["id"] for n in db.rows("SELECT id FROM notifications ORDER BY id DESC")]
    assert [t["notification_id"] for t in timeline] == notes
    assert all(t["receiver"] == "remediation-engine" for t in timeline)


async def test_detail_404_and_422(client):
    for alert_id in ("999999", str(2**31 - 1)):
        r = await client.get(f"/api/alerts/{alert_id}")
        assert r.status_code == 404, alert_id
        assert r.json() == {"detail": "alert not found"}
    for alert_id in ("0", "-1", "abc", str(2**31), str(2**63 - 1), str(2**63), "1.5"):
        r = await client.get(f"/api/alerts/{alert_id}")
        assert r.status_code == 422, (alert_id, r.text)
