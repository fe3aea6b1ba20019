import pytest

from tests.support.payloads import am_alert, notification

pytestmark = pytest.mark.anyio


async def test_firing_then_resolved(client, auth):
    alert = am_alert("DiskFull", severity="critical", fingerprint="abc123", starts_at="2026-01-01T00:00:00Z")
    r = await client.post("/webhook/alerts", json=notification(alert), headers=auth)
    assert r.status_code == 200, r.text
    assert r.json()["created"] == 1 and r.json()["by_action"] == {"auto_analyze": 1}
    resolved = {**alert, "status": "resolved", "endsAt": "2026-01-01T00:10:00Z"}
    r = await client.post("/webhook/alerts", json=notification(resolved), headers=auth)
    assert r.json()["updated"] == 1 and r.json()["created"] == 0
    items = (await client.get("/api/alerts")).json()
    assert items["total"] == 1
    assert items["items"][0]["status"] == "resolved"
    assert items["items"][0]["ends_at"].startswith("2026-01-01T00:10:00")
    assert items["items"][0]["times_notified"] == 2
