"""Approval-gated diagnostics against a real OpenSSH sshd on loopback: proposals through the tool a model
is offered, the policy refusing destructive commands (and nothing touching the file system), approval
by role, once, not after expiry; the run over SSH exec with its time limit, output cap, redaction and
pinned host key; runs claimed once and never repeated; the policy API. The model's side (an analysis
and the chat driven by the scripted provider) is in test_diagnostics_analysis.py."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import col, select

from remediation_app.db import async_session
from remediation_app.models import Alert, DiagnosticProposal, SSHServer, utcnow
from remediation_app.services.diagnostics.proposals import Origin, propose
from remediation_app.services.diagnostics.runner import DiagnosticsRunner
from remediation_app.services.diagnostics.tools import PER_RUN, ProposeTool
from remediation_app.services.investigation.loop import ToolError
from tests.conftest import add_user, bearer_for
from tests.support import diagnostics
from tests.support.diagnostics import add_server, audit_events, proposal, proposals_of, run_pass
from tests.support.payloads import am_alert, notification
from tests.support.sshd import new_key, public_line

pytestmark = [pytest.mark.anyio, pytest.mark.ssh]
sshd = diagnostics.sshd
FAKE_AWS_KEY = "AKIAIOSFODNN7EXAMPLE"


@pytest.fixture
def scratch() -> Iterator[Path]:
    """A directory under /tmp whose name passes the policy's characters (pytest's may hold brackets)."""
    path = Path("/tmp") / f"re-diag-{uuid.uuid4().hex[:12]}"
    path.mkdir()
    try:
        yield path
    finally:
        for child in path.iterdir():
            child.unlink()
        path.rmdir()


def policy_for(scratch: Path) -> str:
    return f"""
version: 1
groups:
  - name: tests
    servers: ["*"]
    commands:
      cat: {{operands: {{max: 1, paths: ["{scratch}/*"]}}}}
      sleep: {{operands: {{max: 1, int: [1, 60]}}}}
      seq: {{operands: {{max: 1, int: [1, 10000000]}}}}
      uname: {{options: {{-s: flag}}}}
"""


async def an_alert(post_webhook, name: str = "DiskFull") -> int:
    r = await post_webhook(notification(am_alert(name, severity="warning", instance="web-1:9100")))
    assert r.status_code == 200, r.text
    async with async_session() as session:
        row = (await session.exec(select(Alert).where(col(Alert.alertname) == name))).first()
        assert row is not None and row.id is not None
        return row.id


async def pending(alert_id: int, command: str, server: str = "web-1") -> int:
    async with async_session() as session:
        row = await propose(
            session, alert_id=alert_id, server=server, command=command, reason="test", origin=Origin("analysis")
        )
        await session.commit()
    assert row.id is not None
    return row.id


async def test_the_tool_offers_read_only_commands_and_refuses_the_rest(client, post_webhook, sshd, scratch):
    await add_server(client, sshd)
    alert_id = await an_alert(post_webhook)
    sentinel = scratch / "sentinel"
    sentinel.write_text("keep me")
    tool = ProposeTool(alert_id, Origin("analysis", job_id=7), ["web-1"])
    assert tool.spec().parameters["properties"]["server"]["enum"] == ["web-1"]

    outcome = await tool.handle({"server": "web-1", "command": "df -h", "reason": "how full are the disks"})
    assert "waits for a person's approval" in outcome.text
    destructive = {
        f"rm -rf {scratch}": "`rm` is not a command the policy allows",
        f"df -h; rm -rf {scratch}": "`;` chains commands",
        f"echo $(rm -rf {scratch})": "`$` substitutes",
        f"echo `rm -rf {scratch}`": "backticks substitute",
        f"df -h > {sentinel}": "`>` redirects output",
        f"df -h\nrm -rf {scratch}": "a newline (U+000A)",
        f"df -h\u037e rm -rf {scratch}": "U+037E GREEK QUESTION MARK",
        f"df -h\uff1b rm -rf {scratch}": "U+FF1B FULLWIDTH SEMICOLON",
    }
    for command, why in destructive.items():
        with pytest.raises(ToolError, match="refused by the policy") as refused:
            await tool.handle({"server": "web-1", "command": command, "reason": "cleanup"})
        assert why in str(refused.value)
    with pytest.raises(ToolError, match="refused by the policy: no registered server is named 'db-9'"):
        await tool.handle({"server": "db-9", "command": "df -h", "reason": "x"})
    for bad in ({"server": "web-1", "command": "", "reason": "x"}, {"server": "web-1", "command": "df"}, {}):
        with pytest.raises(ToolError):
            await tool.handle(bad)

    rows = await proposals_of(alert_id)
    assert [r.status for r in rows] == ["pending"] + ["refused"] * (len(destructive) + 1)
    first = rows[0]
    assert (first.server_name, first.command, first.origin, first.job_id) == ("web-1", "df -h", "analysis", 7)
    assert first.verdict == "allowed by group 'read-only' (df)" and first.policy_version == 0
    assert all(r.verdict for r in rows[1:]) and rows[-1].server_id is None
    # The same command again is the same proposal; more than PER_RUN offered ones are not stored.
    again = await tool.handle({"server": "web-1", "command": "df  -h", "reason": "again"})
    assert f"Proposal #{first.id} " in again.text
    await tool.handle({"server": "web-1", "command": "free -m", "reason": "memory"})
    await tool.handle({"server": "web-1", "command": "uptime", "reason": "load"})
    with pytest.raises(ToolError, match=f"at most {PER_RUN} proposals per answer"):
        await tool.handle({"server": "web-1", "command": "lsblk", "reason": "disks"})

    # A refused proposal is never offered: approving it is refused, and nothing ran.
    r = await client.post(f"/api/proposals/{rows[1].id}/approve")
    assert r.status_code == 409 and "refused by the policy" in r.json()["error"]
    await run_pass(DiagnosticsRunner(name="t"))
    assert sentinel.read_text() == "keep me"
    listed = (await client.get(f"/api/alerts/{alert_id}/proposals")).json()["items"]
    assert [p["id"] for p in listed][-1] == first.id and all(p["output"] is None for p in listed)
    assert {p["status"] for p in listed} == {"pending", "refused"}
    proposed = [e for e in await audit_events("diagnostics.propose") if e.details["alert"] == alert_id]
    assert [e.success for e in proposed][:2] == [True, False] and proposed[0].actor == "model:analysis"


async def test_an_approved_command_runs_once_redacted_and_audited(client, anon, post_webhook, sshd, scratch, db):
    await add_server(client, sshd, roles=("admin",))
    saved = await client.put("/api/diagnostics/policy", json={"document": policy_for(scratch), "version": 0})
    assert saved.status_code == 200, saved.text
    alert_id = await an_alert(post_webhook)
    secret_file = scratch / "app.env"
    raw = f"marker-{uuid.uuid4().hex}\naws_access_key_id = {FAKE_AWS_KEY}\n".encode()
    secret_file.write_bytes(raw)
    proposal_id = await pending(alert_id, f"cat {secret_file}")
    user = await add_user("diag-user", "user")

    # Only a person whose role may open the server approves; nobody without a login.
    assert (await anon.post(f"/api/proposals/{proposal_id}/approve")).status_code == 401
    r = await client.post(f"/api/proposals/{proposal_id}/approve", headers=bearer_for(user))
    assert r.status_code == 403 and r.json()["error"] == "your role may not run commands on web-1"
    assert (await proposal(proposal_id)).status == "pending"
    r = await client.post(f"/api/proposals/{proposal_id}/approve", json={"note": "go"})
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["decided_by"], r.json()["note"]) == ("approved", "test-admin", "go")
    # An approval is not replayed: again, or racing, it finds nothing pending.
    again = await asyncio.gather(*(client.post(f"/api/proposals/{proposal_id}/approve") for _ in range(3)))
    assert [a.status_code for a in again] == [409] * 3
    assert "was already approved" in again[0].json()["error"]
    assert (await client.post(f"/api/proposals/{proposal_id}/reject")).status_code == 409

    runner = DiagnosticsRunner(name="runner-a")
    await run_pass(runner)
    await run_pass(runner)  # nothing more: it ran once
    row = await proposal(proposal_id)
    assert row.status == "done", row.error
    assert (row.exit_status, row.timed_out, row.truncated, row.error) == (0, False, False, "")
    assert row.output_bytes == len(raw) and row.output_sha256 == hashlib.sha256(raw).hexdigest()
    assert raw.decode().splitlines()[0] in row.stdout
    assert FAKE_AWS_KEY not in row.stdout and "[REDACTED-1:" in row.stdout
    listed = (await client.get(f"/api/alerts/{alert_id}/proposals")).json()["items"][0]
    assert listed["output"] == row.stdout and listed["status"] == "done" and listed["stderr"] == ""

    events = await audit_events()
    actions = [e.action for e in events]
    assert actions.count("diagnostics.run") == 1
    assert "diagnostics.policy.widen" in actions
    refused = next(e for e in events if e.action == "diagnostics.approve" and not e.success)
    assert (refused.actor, refused.details["reason"]) == ("diag-user", "role")
    approved = next(e for e in events if e.action == "diagnostics.approve" and e.success)
    assert (approved.actor, approved.target, approved.details["proposal"]) == ("test-admin", "web-1", proposal_id)
    run = next(e for e in events if e.action == "diagnostics.run")
    assert run.details["approved_by"] == "test-admin" and run.details["exit_status"] == 0
    assert run.details["output_bytes"] == len(raw) and run.details["output_sha256"] == row.output_sha256
    assert FAKE_AWS_KEY not in str([e.details for e in events])
    # No LLM provider here: the model's follow-up is not queued (test_diagnostics_analysis.py has one).
    assert db.scalar("SELECT continuation FROM diagnostic_proposals WHERE id = :i", i=proposal_id) == "skipped"


async def test_expiry_rejection_and_bad_requests(client, post_webhook, sshd, db):
    await add_server(client, sshd, roles=("admin", "user"))
    alert_id = await an_alert(post_webhook)
    late, to_reject = await pending(alert_id, "uptime"), await pending(alert_id, "free -m")
    db.execute("UPDATE diagnostic_proposals SET expires_at = :t WHERE id = :i", t="2000-01-01 00:00:00", i=late)
    r = await client.post(f"/api/proposals/{late}/approve")
    assert r.status_code == 409 and r.json()["error"] == "this proposal expired"
    assert (await proposal(late)).status == "expired"

    user = await add_user("diag-rejecter", "user")
    for body, status in (
        ({"note": "x" * 1001}, 422),
        ({"note": "ok", "command": "rm -rf /"}, 422),
        ({"note": 5}, 422),
    ):
        assert (await client.post(f"/api/proposals/{to_reject}/reject", json=body)).status_code == status
    for path, status in (("0", 422), ("99999999999", 422), ("abc", 422), ("424242", 404)):
        assert (await client.post(f"/api/proposals/{path}/approve")).status_code == status
    assert (await client.get("/api/alerts/424242/proposals")).status_code == 404
    r = await client.post(
        f"/api/proposals/{to_reject}/reject", json={"note": "not on a Friday\x00"}, headers=bearer_for(user)
    )
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["note"], r.json()["decided_by"]) == (
        "rejected",
        "not on a Friday\ufffd",
        user.username,
    )
    row = await proposal(to_reject)
    assert row.continuation == "wanted" and row.exit_status is None and row.started_at is None
    assert (await client.post(f"/api/proposals/{to_reject}/approve")).status_code == 409


async def test_time_limit_output_cap_and_a_changed_host_key(client, post_webhook, sshd, scratch, app_env):
    app_env(DIAGNOSTIC_TIMEOUT_SECONDS="1", DIAGNOSTIC_OUTPUT_MAX_BYTES="2048")
    server_id = await add_server(client, sshd)
    assert (await client.put("/api/diagnostics/policy", json={"document": policy_for(scratch)})).status_code == 200
    alert_id = await an_alert(post_webhook)
    slow, loud = await pending(alert_id, "sleep 30"), await pending(alert_id, "seq 1000000")
    for proposal_id in (slow, loud):
        assert (await client.post(f"/api/proposals/{proposal_id}/approve")).status_code == 200
    started = asyncio.get_running_loop().time()
    await run_pass(DiagnosticsRunner(name="limits"))
    assert asyncio.get_running_loop().time() - started < 15  # not the 30 s the command asked for
    row = await proposal(slow)
    assert (row.status, row.timed_out, row.exit_status) == ("failed", True, None)
    assert row.error == "no result within the time limit of 1 s: stopped"
    row = await proposal(loud)
    assert (row.status, row.truncated, row.output_bytes) == ("done", True, 2048)
    assert row.stdout.startswith("1\n2\n3\n") and len(row.stdout) == 2048

    # The server now presents another key than the one pinned: the run refuses to connect.
    async with async_session() as session:
        server = await session.get(SSHServer, server_id)
        assert server is not None
        server.host_key = public_line(new_key())
        session.add(server)
        await session.commit()
    changed = await pending(alert_id, "uname -s")
    assert (await client.post(f"/api/proposals/{changed}/approve")).status_code == 200
    await run_pass(DiagnosticsRunner(name="keys"))
    row = await proposal(changed)
    assert row.status == "failed" and f"presented the host key {sshd.host_key_fingerprint}" in row.error
    assert row.output_bytes == 0 and row.started_at is not None
    run = [e for e in await audit_events("diagnostics.run") if e.details["proposal"] == changed]
    assert run[0].details["error"] == "host_key_changed" and not run[0].success


async def test_a_run_is_taken_by_one_runner_and_an_interrupted_one_is_not_run_again(client, post_webhook, sshd, db):
    await add_server(client, sshd)
    alert_id = await an_alert(post_webhook)
    proposal_id = await pending(alert_id, "uptime")
    assert (await client.post(f"/api/proposals/{proposal_id}/approve")).status_code == 200
    runners = [DiagnosticsRunner(name=f"r{i}") for i in range(3)]
    claims = await asyncio.gather(*(r._claim() for r in runners))
    assert claims.count(proposal_id) == 1 and claims.count(None) == 2
    row = await proposal(proposal_id)
    assert row.status == "running" and row.runner in {"r0", "r1", "r2"}
    # Its process died: once the lease passed, the run is failed, never started again.
    db.execute(
        "UPDATE diagnostic_proposals SET lease_expires_at = :t WHERE id = :i", t="2000-01-01 00:00:00", i=proposal_id
    )
    await run_pass(runners[0])
    row = await proposal(proposal_id)
    assert row.status == "failed" and row.error.startswith("interrupted:") and row.exit_status is None
    assert [e for e in await audit_events("diagnostics.run")] == []


async def test_the_policy_api(client, post_webhook, sshd):
    await add_server(client, sshd)
    current = (await client.get("/api/diagnostics/policy")).json()
    assert (current["version"], current["default"], current["broken"]) == (0, True, "")
    assert "journalctl" in current["document"]
    bad = await client.put("/api/diagnostics/policy", json={"document": "version: 1\ngroups: [{name: 'a b'}]"})
    assert bad.status_code == 422 and bad.json()["errors"][0].startswith("groups[0].name")
    narrower = current["document"].replace("      mount:\n        operands: {max: 0}\n", "")
    saved = await client.put("/api/diagnostics/policy", json={"document": narrower, "version": 0})
    assert saved.status_code == 200 and (saved.json()["version"], saved.json()["widened"]) == (1, [])
    stale = await client.put("/api/diagnostics/policy", json={"document": narrower, "version": 0})
    assert stale.status_code == 409 and "changed meanwhile" in stale.json()["error"]
    for body in ({"document": "x" * 300_000}, {"document": narrower, "extra": 1}, {}):
        assert (await client.put("/api/diagnostics/policy", json=body)).status_code == 422
    user = await add_user("policy-reader", "user")
    assert (await client.get("/api/diagnostics/policy", headers=bearer_for(user))).json()["version"] == 1
    denied = await client.put("/api/diagnostics/policy", json={"document": narrower}, headers=bearer_for(user))
    assert denied.status_code == 403
    dry = await client.post("/api/diagnostics/policy/dry-run", json={"server": "web-1", "command": "mount"})
    assert dry.json() == {
        "allowed": False,
        "reason": "`mount` is not a command the policy allows on this server (group 'read-only')",
        "group": "read-only",
        "command": "",
        "argv": [],
    }
    draft = await client.post(
        "/api/diagnostics/policy/dry-run",
        json={"server": "web-1", "command": "ps aux | head -n 5", "document": current["document"]},
    )
    assert draft.json()["allowed"] and draft.json()["argv"] == [["ps", "aux"], ["head", "-n", "5"]]
    unknown = await client.post("/api/diagnostics/policy/dry-run", json={"server": "nope", "command": "df"})
    assert unknown.json()["reason"] == "no registered server is named 'nope'"
    assert (await client.post("/api/diagnostics/policy/dry-run", json={"server": "web-1"})).status_code == 422
    # A proposal checked against v0 that v1 no longer allows cannot be approved.
    alert_id = await an_alert(post_webhook, "PolicyChanged")
    async with async_session() as session:
        session.add(
            DiagnosticProposal(
                alert_id=alert_id,
                server_id=1,
                server_name="web-1",
                command="mount",
                status="pending",
                created_at=current_time(),
                expires_at=current_time(hours=1),
            )
        )
        await session.commit()
    rows = await proposals_of(alert_id)
    r = await client.post(f"/api/proposals/{rows[0].id}/approve")
    assert r.status_code == 409 and "the policy in force now (version 1) refuses it" in r.json()["error"]


def current_time(hours: float = 0) -> datetime:
    return utcnow() + timedelta(hours=hours)
