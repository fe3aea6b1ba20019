"""What the alert page loads from the store, on SQLite and PostgreSQL: related alerts and history
(services/investigation/related.py, as the page shows them), the links and Alertmanager's state on
the summary card, the inhibiting alerts linked to their pages, and the incident link."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import select

from remediation_app.db import async_session
from remediation_app.models import Alert, Incident, utcnow
from remediation_app.pages.alerts.alert_state import _card
from remediation_app.pages.alerts.related_state import HISTORY_SHOWN, load_related
from remediation_app.services.alerts.store import firing_by_fingerprint
from tests.support.payloads import am_alert, notification

pytestmark = pytest.mark.anyio


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


async def ids_by_fingerprint(post_webhook: Any, *alerts: dict[str, Any], external_url: str = "") -> dict[str, int]:
    for alert in alerts:
        payload = notification(alert)
        if external_url:
            payload["externalURL"] = external_url
        response = await post_webhook(payload)
        assert response.status_code == 200, response.text
    async with async_session() as session:
        rows = (await session.exec(select(Alert.fingerprint, Alert.starts_at, Alert.id))).all()
    return {f"{fp}@{iso(start)}": int(i) for fp, start, i in rows if i is not None}


async def test_related_alerts_and_history(post_webhook: Any) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    fp = "aaaaaaaaaaaaaaaa"
    earlier = [
        am_alert(
            "DiskFull",
            status="resolved",
            instance="db-1:9100",
            fingerprint=fp,
            starts_at=iso(now - timedelta(hours=h)),
            ends_at=iso(now - timedelta(hours=h) + timedelta(minutes=10 * h)),
        )
        for h in (1, 2, 3, 30)
    ]
    current = am_alert("DiskFull", instance="db-1:9100", fingerprint=fp, starts_at=iso(now))
    same_job = am_alert("HighLoad", instance="web-9:9100", job="node", labels={"team": "<b>x</b>"})
    elsewhere = am_alert("Other", instance="web-2:9100", job="api")
    resolved_neighbour = am_alert(
        "Gone", status="resolved", instance="db-1:9100", starts_at=iso(now), ends_at=iso(now + timedelta(minutes=1))
    )
    ids = await ids_by_fingerprint(post_webhook, *earlier, current, same_job, elsewhere, resolved_neighbour)
    alert_id = ids[f"{fp}@{iso(now)}"]
    async with async_session() as session:
        alert = await session.get(Alert, alert_id)
        assert alert is not None
        view = await load_related(session, alert)
    # Firing alerts sharing instance or job (node): HighLoad; not the resolved one, not job=api.
    assert [(r.alertname, r.shared) for r in view.related] == [("HighLoad", "job")]
    assert view.related_ids == {int(view.related[0].id)} and view.related_note == ""
    # Its other firings, newest first, with how long each lasted; three within six hours: flapping.
    assert [r.lasted for r in view.firings] == ["10m", "20m", "30m", "5h00m"]
    assert [r.id for r in view.firings] == [str(ids[f"{fp}@{iso(now - timedelta(hours=h))}"]) for h in (1, 2, 3, 30)]
    assert view.flapping
    assert view.history == "4 other firings of this alert on this instance; each lasted: median 25m, longest 5h00m."


async def test_history_is_bounded(post_webhook: Any) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    alerts = [
        am_alert("Flappy", instance="x:1", fingerprint="b" * 16, starts_at=iso(now - timedelta(days=n)))
        for n in range(HISTORY_SHOWN + 3)
    ]
    ids = await ids_by_fingerprint(post_webhook, *alerts)
    async with async_session() as session:
        alert = await session.get(Alert, ids[f"{'b' * 16}@{iso(now)}"])
        assert alert is not None
        view = await load_related(session, alert)
    assert len(view.firings) == HISTORY_SHOWN
    assert view.history.startswith(f"{HISTORY_SHOWN + 2} other firings")
    assert {r.status for r in view.firings} == {"firing"} and {r.lasted for r in view.firings} == {""}


async def test_summary_card_links_state_and_incident(post_webhook: Any) -> None:
    inhibitor = am_alert("NodeDown", instance="db-1:9100", fingerprint="c" * 16)
    alert = am_alert("DiskFull", instance="db-1:9100", fingerprint="d" * 16)
    ids = await ids_by_fingerprint(post_webhook, inhibitor, alert, external_url="http://am.example:9093/")
    alert_id = next(i for key, i in ids.items() if key.startswith("d" * 16))
    inhibitor_id = next(i for key, i in ids.items() if key.startswith("c" * 16))
    async with async_session() as session:
        row = await session.get(Alert, alert_id)
        assert row is not None
        now = utcnow()
        incident = Incident(group_key="{}:{}", opened_at=now, last_notified_at=now, alert_count=7)
        session.add(incident)
        await session.flush()
        row.incident_id = incident.id
        row.am_state, row.am_silenced_by, row.am_inhibited_by = "suppressed", ["s-1"], ["c" * 16, "e" * 16]
        row.acked_by, row.acked_at = "alice", now
        session.add(row)
        await session.commit()
        await session.refresh(row)
        card = await _card(session, row)
        assert await firing_by_fingerprint(session, ["c" * 16, "e" * 16, "d" * 16]) == {
            "c" * 16: inhibitor_id,
            "d" * 16: alert_id,
        }
        assert await firing_by_fingerprint(session, []) == {}
    assert card["alertmanager_url"] == (
        "http://am.example:9093/#/alerts?filter=%7Balertname%3D%22DiskFull%22%2Cinstance%3D%22db-1%3A9100%22%7D"
    )
    assert card["generator_url"].startswith("http://prometheus.example:9090/")
    assert card["silenced_by"] == [["s-1", "http://am.example:9093/#/silences/s-1"]]
    assert card["inhibited_by"] == [["c" * 16, f"/alerts/{inhibitor_id}"], ["e" * 16, ""]]
    assert card["incident"] == [f"/incidents/{incident.id}", f"Incident #{incident.id} (7 alerts)"]
    assert card["title"] == "DiskFull"
    assert (card["alert"]["am_state"], card["alert"]["acked_by"]) == ("suppressed", "alice")
    assert card["alert"]["acked_at"]
