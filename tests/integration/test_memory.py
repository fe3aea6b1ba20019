"""Incident memory on both databases: the outcome API (records, edits, refuses bad input), similar past
incidents (alertname, labels, full text: FTS5 on SQLite, tsvector on PostgreSQL; verified fixes first)
and the verdict on fixes (verified, failed by a re-fire or by the expression, unverified), judged by
`verify_due` at a chosen time instead of waiting for the hold time. A real Prometheus answers the
expression check. The whole loop (terminal, analysis, resolved notification) is test_memory_loop.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from sqlmodel import col

from remediation_app.db import async_session
from remediation_app.models import Alert, NotifyRoute, utcnow
from remediation_app.services.memory.outcomes import COMMAND_MAX, COMMANDS_MAX, TAGS_MAX, TEXT_MAX
from remediation_app.services.memory.verification import verify_due
from tests.conftest import add_user, bearer_for, require_tool
from tests.support.payloads import am_alert, notification
from tests.support.prometheus import Prometheus

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    """A real Prometheus with no data: `vector(1) > 0` holds at any time, `vector(0) > 1` never."""
    with Prometheus(require_tool("prometheus"), tmp_path_factory.mktemp("memory-prometheus")) as prom:
        yield prom  # type: ignore[misc]


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def generator_url(expr: str) -> str:
    return f"http://prometheus.example:9090/graph?g0.expr={quote(expr, safe='')}"


class Alerts:
    """Posts notifications through the webhook and finds the alerts they stored."""

    def __init__(self, post_webhook: Any, db: Any) -> None:
        self.post_webhook, self.db = post_webhook, db
        self.exprs: dict[str, str] = {}

    async def fire(self, name: str, fp: str, *, starts: datetime, expr: str = "up", **kwargs: Any) -> int:
        self.exprs[fp] = expr
        alert = am_alert(name, fingerprint=fp, starts_at=iso(starts), **kwargs)
        alert["generatorURL"] = generator_url(expr)
        r = await self.post_webhook(notification(alert))
        assert r.status_code == 200, r.text
        return int(self.db.scalar("SELECT max(id) FROM alerts WHERE fingerprint = :fp", fp=fp))

    async def resolve(self, name: str, fp: str, *, starts: datetime, ends: datetime, **kwargs: Any) -> None:
        alert = am_alert(name, fingerprint=fp, starts_at=iso(starts), status="resolved", ends_at=iso(ends), **kwargs)
        alert["generatorURL"] = generator_url(self.exprs[fp])  # as Alertmanager sends it: the same link
        r = await self.post_webhook(notification(alert))
        assert r.status_code == 200, r.text


@pytest.fixture
def alerts(post_webhook: Any, db: Any) -> Alerts:
    return Alerts(post_webhook, db)


async def test_outcome_api_records_edits_and_refuses_bad_input(client, anon, alerts, db):
    now = utcnow()
    alert_id = await alerts.fire("DiskFull", "fp-api", starts=now)
    user = await add_user("memory-user")
    as_user = bearer_for(user)
    url = f"/api/alerts/{alert_id}/outcome"

    # Refusals: each names what is wrong, and nothing is stored.
    assert (await anon.post(url, json={"verdict": "right"})).status_code == 401
    assert (await anon.get(f"/api/alerts/{alert_id}/similar")).status_code == 401
    assert (await anon.get("/api/reliability")).status_code == 401
    missing = await client.post("/api/alerts/999999/outcome", json={"verdict": "right"})
    assert missing.status_code == 404 and missing.json()["error"] == "alert not found"
    assert (await client.get("/api/alerts/999999/similar")).status_code == 404
    assert (await client.get(url)).json() == {"error": "no outcome recorded for this alert", "field": "outcome"}
    bad = {
        "bad verdict": {"verdict": "maybe"},
        "no verdict": {"fix": "x"},
        "huge root cause": {"verdict": "right", "root_cause": "x" * (TEXT_MAX + 1)},
        "huge fix": {"verdict": "right", "fix": "é" * (TEXT_MAX + 1)},
        "too many commands": {"verdict": "right", "commands": ["uptime"] * (COMMANDS_MAX + 1)},
        "huge command": {"verdict": "right", "commands": ["x" * (COMMAND_MAX + 1)]},
        "two lines in one command": {"verdict": "right", "commands": ["systemctl restart a\nrm -rf /"]},
        "too many tags": {"verdict": "right", "tags": [f"t{n}" for n in range(TAGS_MAX + 1)]},
        "bad tag": {"verdict": "right", "tags": ["<script>"]},
        "not a list": {"verdict": "right", "commands": "uptime"},
        "unknown field": {"verdict": "right", "author": "someone else"},
    }
    for why, body in bad.items():
        r = await client.post(url, json=body)
        assert r.status_code == 422, (why, r.text)
        assert r.json()["error"] and ("field" in r.json() or "fields" in r.json()), why
    assert (
        await client.post(url, content=b"{not json", headers={"Content-Type": "application/json"})
    ).status_code == 400
    huge = await client.post(url, content=b'{"verdict": "right", "fix": "' + b"x" * (1024 * 1024) + b'"}')
    assert huge.status_code == 413
    assert (await client.post("/api/alerts/0/outcome", json={"verdict": "right"})).status_code == 422
    assert (await client.get(f"/api/alerts/{alert_id}/similar?limit=51")).status_code == 422
    assert db.scalar("SELECT count(*) FROM outcomes") == 0

    # Recorded by a user (201), with author and time; tags normalized; NUL stored as U+FFFD.
    body = {
        "verdict": "partly",
        "root_cause": "logrotate was disabled\x00",
        "fix": "Compressed the old logs",
        "commands": ["  gzip /var/log/app/*.log  ", "", "systemctl start logrotate.timer"],
        "tags": ["Disk Space", "logrotate", "disk-space"],
    }
    r = await client.post(url, json=body, headers=as_user)
    assert r.status_code == 201, r.text
    recorded = r.json()
    assert recorded["created_by"] == "memory-user" and recorded["verdict"] == "partly"
    assert recorded["commands"] == ["gzip /var/log/app/*.log", "systemctl start logrotate.timer"]
    assert recorded["tags"] == ["disk-space", "logrotate"] and recorded["root_cause"].endswith("\ufffd")
    assert recorded["fix_check"]["status"] == "pending" and recorded["fix_check"]["fix_from"] == "recorded"
    assert recorded["fix_check"]["detail"].startswith("Waiting: the alert must resolve by ")
    assert recorded["alertname"] == "DiskFull" and recorded["edits"] == 0

    # The same again: 200, nothing changed, nothing audited; an edit: 200, audited, by its editor.
    again = await client.post(url, json=body, headers=as_user)
    assert again.status_code == 200 and again.json()["edits"] == 0
    edited = await client.post(url, json={**body, "verdict": "right"})
    assert edited.status_code == 200 and edited.json()["verdict"] == "right" and edited.json()["edits"] == 1
    assert edited.json()["updated_by"] == "test-admin" and edited.json()["created_by"] == "memory-user"
    events = db.rows("SELECT actor, action, details FROM audit_events WHERE action LIKE 'outcome.%' ORDER BY id")
    assert [(e["actor"], e["action"]) for e in events] == [
        ("memory-user", "outcome.record"),
        ("test-admin", "outcome.edit"),
    ]
    details = events[1]["details"]
    assert (json.loads(details) if isinstance(details, str) else details)["changed"] == ["verdict"]
    assert (await client.get(url, headers=as_user)).json()["verdict"] == "right"
    assert db.scalar("SELECT count(*) FROM outcomes") == 1

    prefill = await client.get(f"{url}/prefill", headers=as_user)
    assert prefill.status_code == 200 and prefill.json() == {"commands": [], "fix": "", "sources": [], "unreadable": []}
    figures = (await client.get("/api/reliability", headers=as_user)).json()
    assert (
        figures["total"]["outcomes"] == 1 and figures["total"]["right"] == 1 and figures["total"]["held_rate"] is None
    )
    assert [row["key"] for row in figures["by_alertname"]] == ["DiskFull"]
    assert figures["by_provider"][0]["key"] == "(no analysis)"


async def test_similar_incidents_rank_by_alertname_verified_fixes_labels_and_text(client, alerts, db, db_kind):
    start = utcnow() - timedelta(days=2)
    past = {
        "same-name": ("VarFilling", {"instance": "db-9:9100"}, "Var almost full on db-9"),
        "same-name-verified": ("VarFilling", {"instance": "db-8:9100"}, "Var almost full on db-8"),
        "shared-label": ("InodesLow", {"instance": "db-1:9100", "mountpoint": "/var"}, "Inodes low"),
        "text-only": ("AppLogsGrowing", {"instance": "app-3:9100"}, "Filesystem filling with application logs"),
        "unrelated": ("CertExpiring", {"instance": "lb-1:443", "job": "blackbox"}, "TLS certificate expires soon"),
    }
    ids = {}
    for n, (key, (name, labels, summary)) in enumerate(past.items()):
        ids[key] = await alerts.fire(
            name,
            f"fp-sim-{key}",
            starts=start + timedelta(minutes=n),
            instance=labels.pop("instance"),
            job=labels.pop("job", "node"),
            labels=labels,
            annotations={"summary": summary},
        )
        r = await client.post(
            f"/api/alerts/{ids[key]}/outcome",
            json={"verdict": "right", "root_cause": f"cause of {key}", "fix": f"fix of {key}", "tags": [key]},
        )
        assert r.status_code == 201, r.text
    db.execute("UPDATE outcomes SET fix_status = 'verified' WHERE alert_id = :id", id=ids["same-name-verified"])

    new_id = await alerts.fire(
        "VarFilling",
        "fp-sim-new",
        starts=utcnow(),
        instance="db-1:9100",
        labels={"mountpoint": "/var"},
        annotations={"summary": "The filesystem /var is filling up", "description": "Application logs grow fast"},
    )
    r = await client.get(f"/api/alerts/{new_id}/similar")
    assert r.status_code == 200, r.text
    found = r.json()
    order = [item["alert_id"] for item in found["items"]]
    assert order == [ids["same-name-verified"], ids["same-name"], ids["shared-label"], ids["text-only"]], found
    first, _second, shared, text = found["items"]
    assert first["same_alertname"] and first["outcome"]["fix_check"]["status"] == "verified"
    assert shared["shared_labels"] == ["instance=db-1:9100", "job=node", "mountpoint=/var"]
    assert not shared["same_alertname"] and text["text_score"] > 0 and text["shared_labels"] == ["job=node"]
    assert found["seen"] == 0 and found["last_fix"] == "fix of same-name-verified"
    assert found["last_fix_status"] == "verified" and found["last_fix_alert_id"] == ids["same-name-verified"]
    # Its own outcome is never its own similar incident.
    own = (await client.get(f"/api/alerts/{ids['same-name']}/similar")).json()
    assert ids["same-name"] not in [item["alert_id"] for item in own["items"]]
    # Hostile words in the summary are only words to search (the query syntax of neither database).
    odd = await alerts.fire("Odd", "fp-sim-odd", starts=utcnow(), annotations={"summary": 'NEAR( " OR * -x :x'})
    assert (await client.get(f"/api/alerts/{odd}/similar")).status_code == 200

    # Deleting an outcome's alert removes it from the search (the cascade, and on SQLite the FTS5 triggers).
    async with async_session() as session:  # the app's connection: foreign keys enforced on SQLite too
        await session.exec(sa.delete(Alert).where(col(Alert.id) == ids["text-only"]))
        await session.commit()
    assert db.scalar("SELECT count(*) FROM outcomes WHERE alert_id = :id", id=ids["text-only"]) == 0
    after = (await client.get(f"/api/alerts/{new_id}/similar")).json()
    assert ids["text-only"] not in [item["alert_id"] for item in after["items"]]
    if db_kind == "postgres":  # the search uses the GIN index, not a scan of every outcome
        with db.engine.connect() as conn:
            conn.execute(sa.text("SET enable_seqscan = off"))
            plan = conn.execute(
                sa.text(
                    "EXPLAIN SELECT id FROM outcomes WHERE to_tsvector('english'::regconfig, alertname || ' ' || "
                    "summary || ' ' || description || ' ' || root_cause || ' ' || fix || ' ' || (commands)::text "
                    "|| ' ' || (tags)::text) @@ websearch_to_tsquery('english', 'logs or var')"
                )
            ).all()
        assert "ix_outcomes_search" in " ".join(str(row) for row in plan)


async def test_fixes_are_verified_failed_or_unverified(client, alerts, app_env, prometheus, db):
    app_env(PROMETHEUS_URL=prometheus.url, FIX_VERIFY_WINDOW_MINUTES="30", FIX_HOLD_MINUTES="120")
    now = utcnow()
    async with async_session() as session:  # a notification route that wants the verdicts
        fixes = ["fix_verified", "fix_failed"]
        session.add(NotifyRoute(name="fixes", target_kind="json", events=fixes, created_at=now, updated_at=now))
        await session.commit()
    hold, window = timedelta(minutes=120), timedelta(minutes=30)
    labels = {"mountpoint": "/data"}
    started = now - timedelta(minutes=10)
    cases = {
        "holds": "vector(0) > 1",  # resolved, never again, the condition false at the end: verified
        "condition-held": "vector(1) > 0",  # resolved, but the expression still returns a series: failed
        "fires-again": "vector(0) > 1",  # resolved, then a new alert of the same fingerprint: failed
        "never-resolves": "vector(0) > 1",  # unverified once the window passed
        "resolved-before": "vector(0) > 1",  # resolved before the outcome (no command times): unverified
    }
    ids = {}
    for key, expr in cases.items():
        ids[key] = await alerts.fire("Mem" + key, f"fp-v-{key}", starts=started, expr=expr, labels=labels)
    await alerts.resolve(
        "Memresolved-before",
        "fp-v-resolved-before",
        starts=started,
        ends=now - timedelta(minutes=5),
        labels=labels,
    )
    for key in cases:
        r = await client.post(f"/api/alerts/{ids[key]}/outcome", json={"verdict": "right", "fix": f"fixed {key}"})
        assert r.status_code == 201, r.text
    fixed = utcnow()
    for key in ("holds", "condition-held", "fires-again"):
        await alerts.resolve(
            "Mem" + key,
            f"fp-v-{key}",
            starts=started,
            ends=fixed + timedelta(minutes=3),
            labels=labels,
        )
    refire = await alerts.fire(
        "Memfires-again", "fp-v-fires-again", starts=fixed + timedelta(minutes=40), labels=labels
    )

    # Within the hold time only the re-fire and the early resolution can be told.
    early = await verify_due(fixed + timedelta(minutes=20))
    assert early == {ids["fires-again"]: "failed", ids["resolved-before"]: "unverified"}
    # After it: the rest.
    late = await verify_due(fixed + hold + window)
    assert late == {ids["holds"]: "verified", ids["condition-held"]: "failed", ids["never-resolves"]: "unverified"}
    assert await verify_due(fixed + hold * 10) == {}  # verdicts are final
    queued = {(row["event"], row["alert_id"]) for row in db.rows("SELECT event, alert_id FROM notify_deliveries")}
    assert queued == {
        ("fix_failed", ids["fires-again"]),
        ("fix_verified", ids["holds"]),
        ("fix_failed", ids["condition-held"]),
    }

    async def check(key: str) -> dict[str, Any]:
        return (await client.get(f"/api/alerts/{ids[key]}/outcome")).json()["fix_check"]

    holds = await check("holds")
    assert holds["status"] == "verified" and "did not fire again within the 2h00m hold time" in holds["detail"]
    assert (
        holds["evidence"]["expression"]["series"] == 0 and holds["evidence"]["expression"]["query"] == "vector(0) > 1"
    )
    assert holds["evidence"]["resolved_at"] and holds["checked_at"]
    held = await check("condition-held")
    assert held["status"] == "failed" and "still returned 1 series" in held["detail"]
    again = await check("fires-again")
    assert again["status"] == "failed" and again["evidence"]["refire_alert_id"] == refire
    assert f"alert #{refire}" in again["detail"] and "fired again 37m later" in again["detail"]
    never = await check("never-resolves")
    assert never["status"] == "unverified" and "did not resolve within 30m" in never["detail"]
    before = await check("resolved-before")
    assert before["status"] == "unverified" and "before the fix" in before["detail"]

    # An edited fix is judged again (the same facts: the same verdict).
    r = await client.post(f"/api/alerts/{ids['fires-again']}/outcome", json={"verdict": "right", "fix": "another fix"})
    assert r.json()["fix_check"]["status"] == "pending"
    assert await verify_due(fixed + timedelta(minutes=20)) == {ids["fires-again"]: "failed"}
    figures = (await client.get("/api/reliability")).json()["total"]
    assert (figures["verified"], figures["failed"], figures["unverified"]) == (1, 2, 2)
    assert figures["held_rate"] == pytest.approx(1 / 3, abs=1e-3)
