"""The analysis queue end to end on SQLite and PostgreSQL: webhook -> job -> worker -> LiteLLM over real
HTTP to a loopback fake provider -> stored analysis; retries, failures, leases, concurrency, budget."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from remediation_app.db import async_session
from remediation_app.services.llm import claims, costs
from remediation_app.services.llm.worker import AnalysisWorker
from tests.support.analysis_jobs import all_done, job_rows, running, wait_jobs
from tests.support.fake_llm import GOOD_ANALYSIS, FakeLLM, closed_port, error, hang, reply, reply_json
from tests.support.payloads import am_alert, notification

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def fake() -> Iterator[FakeLLM]:
    with FakeLLM() as server:
        yield server


@pytest.fixture
def llm_env(app_env: Callable[..., None], fake: FakeLLM) -> Callable[..., None]:
    """The environment's provider points at the fake server; fast retries for tests."""
    app_env(
        LLM_MODEL="openai/gpt-4o-mini",
        LLM_API_BASE=fake.api_base,
        LLM_API_KEY="sk-test-key",
        LLM_TIMEOUT_SECONDS="5",
        ANALYSIS_RETRY_BASE_SECONDS="0.02",
        ANALYSIS_RETRY_MAX_SECONDS="0.1",
        ANALYSIS_POLL_SECONDS="0.1",
        ANALYSIS_MAX_ATTEMPTS="3",
    )
    costs.clear_cache()
    return app_env


async def critical(post_webhook: Any, name: str = "DiskFull", **kwargs: Any) -> int:
    """Post a critical (auto_analyze) alert; returns its id."""
    r = await post_webhook(notification(am_alert(name, severity="critical", **kwargs)))
    assert r.status_code == 200, r.text
    assert r.json()["by_action"] == {"auto_analyze": 1}
    async with async_session() as session:
        found = await session.exec(  # type: ignore[call-overload]
            sa.text("SELECT max(id) FROM alerts WHERE alertname = :name"), params={"name": name}
        )
        return int(found.scalar_one())


async def test_auto_analyze_alert_is_analysed_and_stored(post_webhook, client, llm_env, fake):
    alert_id = await critical(post_webhook, annotations={"description": "/var is 97% full"})
    async with running(AnalysisWorker(concurrency=2)):
        [job] = await wait_jobs(all_done)
    assert job.status == "succeeded" and job.attempts == 1 and job.requested_by == "rule:Critical"

    body = (await client.get(f"/api/alerts/{alert_id}")).json()
    analysis = body["analysis"]
    assert body["analysis_job"]["status"] == "succeeded" and body["llm_configured"] is True
    assert analysis["structured"] is True
    assert analysis["root_cause"] == GOOD_ANALYSIS["root_cause"]
    assert analysis["immediate_actions"][0]["command"] == "df -h /var"
    assert analysis["urgency"] == "HIGH" and analysis["confidence"] == 0.8 and analysis["needs_human"] is False
    assert analysis["provider"] == "environment" and analysis["model"] == "openai/gpt-4o-mini"
    assert analysis["prompt_tokens"] > 0 and analysis["completion_tokens"] > 0
    assert analysis["cost_usd"] is not None and analysis["cost_usd"] > 0  # LiteLLM's price for gpt-4o-mini
    assert analysis["requested_by"] == "rule:Critical" and analysis["latency_ms"] >= 0
    [item] = (await client.get("/api/alerts")).json()["items"]
    assert item["analysis"] == {"status": "done", "urgency": "HIGH"}

    [request] = fake.chat_requests
    assert request.headers["authorization"] == "Bearer sk-test-key"
    assert request.json["response_format"] == {"type": "json_object"}
    assert request.json["messages"][0]["role"] == "system"
    # The question is the first user message (a model that can call tools also gets the tool loop's note).
    question = next(m for m in request.json["messages"] if m["role"] == "user")
    assert "/var is 97% full" in question["content"]

    spend = (await client.get("/api/costs")).json()
    assert spend["analyses_today"] == 1 and spend["today_usd"] == pytest.approx(analysis["cost_usd"])
    assert spend["month_usd"] >= spend["today_usd"] and spend["budget_reached"] is False


@pytest.mark.parametrize(
    ("answer", "structured"),
    [
        ("```json\n" + json.dumps(GOOD_ANALYSIS) + "\n```", True),
        ("Looking at this alert:\n" + json.dumps(GOOD_ANALYSIS) + "\nThat is all.", True),
        ("The disk is probably full. Clean it up.", False),
        ('{"root_cause": "cut off mid', False),
    ],
    ids=["fenced", "trailing-text", "prose", "malformed"],
)
async def test_model_answers_of_every_shape_are_kept(post_webhook, client, llm_env, fake, answer, structured):
    fake.script(reply(answer))
    alert_id = await critical(post_webhook)
    async with running(AnalysisWorker()):
        [job] = await wait_jobs(all_done)
    assert job.status == "succeeded"
    analysis = (await client.get(f"/api/alerts/{alert_id}")).json()["analysis"]
    assert analysis["structured"] is structured and analysis["raw_text"] == answer
    if structured:
        assert analysis["root_cause"] == GOOD_ANALYSIS["root_cause"]
    else:
        assert analysis["root_cause"] is None and analysis["urgency"] is None


async def test_transient_errors_retry_with_backoff_then_succeed(post_webhook, llm_env, fake):
    fake.script(error(500), error(429, headers={"Retry-After": "0"}), reply())
    await critical(post_webhook)
    async with running(AnalysisWorker()):
        [job] = await wait_jobs(all_done)
    assert job.status == "succeeded" and job.attempts == 3 and job.last_error == ""
    assert len(fake.chat_requests) == 3  # LiteLLM and the OpenAI client do not retry on their own


async def test_last_attempt_fails_and_the_alert_shows_why(post_webhook, client, llm_env, fake):
    fake.script(error(503), error(500), error(500, {"error": {"message": "model overloaded", "type": "server_error"}}))
    alert_id = await critical(post_webhook)
    async with running(AnalysisWorker()):
        [job] = await wait_jobs(all_done)
    assert job.status == "failed" and job.attempts == 3 and len(fake.chat_requests) == 3
    body = (await client.get(f"/api/alerts/{alert_id}")).json()
    assert body["analysis"] is None
    assert body["analysis_job"]["status"] == "failed"
    assert "model overloaded" in body["analysis_job"]["last_error"]
    [item] = (await client.get("/api/alerts")).json()["items"]
    assert item["analysis"] == {"status": "failed", "urgency": None}


async def test_a_refused_key_fails_at_once(post_webhook, llm_env, fake):
    fake.script(error(401))
    await critical(post_webhook)
    async with running(AnalysisWorker()):
        [job] = await wait_jobs(all_done)
    assert job.status == "failed" and job.attempts == 1 and "AuthenticationError" in job.last_error


async def test_a_hang_times_out_and_is_retried(post_webhook, llm_env, fake):
    llm_env(LLM_TIMEOUT_SECONDS="0.5")
    fake.script(hang(), reply())
    await critical(post_webhook)
    async with running(AnalysisWorker()):
        [job] = await wait_jobs(all_done)
    assert job.status == "succeeded" and job.attempts == 2
    await fake.wait_for_disconnects_async(1)  # the hung request was abandoned, not left open


async def test_connection_refused_is_transient(post_webhook, llm_env):
    llm_env(LLM_API_BASE=f"http://127.0.0.1:{closed_port()}/v1", ANALYSIS_MAX_ATTEMPTS="2")
    await critical(post_webhook)
    async with running(AnalysisWorker()):
        [job] = await wait_jobs(all_done)
    assert job.status == "failed" and job.attempts == 2
    assert "Connection" in job.last_error


async def test_concurrency_limit_is_honoured(post_webhook, llm_env, fake):
    fake.default = reply(delay=0.3)
    for i in range(6):
        await critical(post_webhook, f"Alert{i}")
    async with running(AnalysisWorker(concurrency=2)):
        rows = await wait_jobs(lambda rows: len(rows) == 6 and all_done(rows))
    assert all(j.status == "succeeded" for j in rows)
    assert fake.max_in_flight == 2 and len(fake.chat_requests) == 6


async def test_resolved_manual_and_repeated_alerts_are_not_auto_analysed(post_webhook, llm_env, fake):
    await post_webhook(notification(am_alert("Gone", severity="critical", status="resolved")))
    await post_webhook(notification(am_alert("Warn", severity="warning")))
    assert await job_rows() == []
    # The same fingerprint firing again (a new startsAt) inside the dedup window: one analysis.
    await critical(post_webhook, "Flappy", fingerprint="f1a9f1a9", starts_at="2026-01-01T00:00:00Z")
    async with running(AnalysisWorker()):
        await wait_jobs(all_done)
        await post_webhook(
            notification(
                am_alert("Flappy", severity="critical", fingerprint="f1a9f1a9", starts_at="2026-01-01T01:00:00Z")
            )
        )
    rows = await job_rows()
    assert [(j.fingerprint, j.status) for j in rows] == [("f1a9f1a9", "succeeded")]


async def test_an_alert_that_resolves_before_its_turn_is_cancelled(post_webhook, llm_env, fake):
    alert = am_alert("Blip", severity="critical", fingerprint="b1b1b1b1", starts_at="2026-01-01T00:00:00Z")
    await post_webhook(notification(alert))
    await post_webhook(notification({**alert, "status": "resolved", "endsAt": "2026-01-01T00:05:00Z"}))
    async with running(AnalysisWorker()):
        [job] = await wait_jobs(all_done)
    assert job.status == "cancelled" and "resolved" in job.last_error and fake.chat_requests == []


async def test_an_alert_alertmanager_reports_suppressed_is_not_analysed_automatically(
    post_webhook, client, llm_env, fake
):
    """The sync loop's am_state (services/alertmanager/sync.py) decides, unless ANALYZE_SUPPRESSED."""
    muted = await critical(post_webhook, "Muted")
    await critical(post_webhook, "Inhibited")
    async with async_session() as session:
        await session.exec(sa.text("UPDATE alerts SET am_state = 'suppressed'"))  # type: ignore[call-overload]
        await session.commit()
    async with running(AnalysisWorker()):
        jobs = await wait_jobs(all_done)
    assert {job.status for job in jobs} == {"cancelled"} and fake.chat_requests == []
    shown = (await client.get(f"/api/alerts/{muted}")).json()["analysis_job"]["last_error"]
    assert shown.startswith("Alertmanager reports the alert silenced or inhibited") and "Analyze" in shown
    # Asked for by a user, or with ANALYZE_SUPPRESSED=true, it runs.
    assert (await client.post(f"/api/alerts/{muted}/analyze")).status_code == 202
    llm_env(ANALYZE_SUPPRESSED="true")
    await critical(post_webhook, "InhibitedAgain", fingerprint="feedfacefeedface")
    async with async_session() as session:
        await session.exec(sa.text("UPDATE alerts SET am_state = 'suppressed'"))  # type: ignore[call-overload]
        await session.commit()
    async with running(AnalysisWorker()):
        done = await wait_jobs(lambda rows: len(rows) == 4 and all_done(rows))
    assert sorted(job.status for job in done) == ["cancelled", "cancelled", "succeeded", "succeeded"]


async def test_without_a_provider_alerts_flow_and_jobs_wait(post_webhook, client, app_env):
    app_env(ANALYSIS_POLL_SECONDS="0.05")
    alert_id = await critical(post_webhook)
    worker = AnalysisWorker()
    async with running(worker):
        while worker._provider_checked[0] == 0.0:  # until it has looked for a provider once
            await asyncio.sleep(0.01)
    [job] = await job_rows()
    assert job.status == "pending" and job.attempts == 0
    body = (await client.get(f"/api/alerts/{alert_id}")).json()
    assert body["llm_configured"] is False and body["analysis"] is None
    r = await client.post(f"/api/alerts/{alert_id}/analyze")
    assert r.status_code == 409 and "no LLM provider is configured" in r.json()["error"]


async def test_a_user_can_ask_again_and_choose_the_provider(post_webhook, client, llm_env, fake):
    alert_id = await critical(post_webhook)
    async with running(AnalysisWorker()):
        await wait_jobs(all_done)
        created = await client.post(
            "/api/providers",
            json={"name": "second", "model": "openai/gpt-4o", "api_base": fake.api_base, "api_key": "sk-second"},
        )
        assert created.status_code == 201, created.text
        provider_id = created.json()["id"]
        r = await client.post(f"/api/alerts/{alert_id}/analyze", json={"provider_id": provider_id})
        assert r.status_code == 202, r.text
        assert r.json()["requested_by"] == "user:test-admin" and r.json()["automatic"] is False
        rows = await wait_jobs(lambda rows: len(rows) == 2 and all_done(rows))
    assert [j.status for j in rows] == ["succeeded", "succeeded"]
    history = (await client.get(f"/api/alerts/{alert_id}/analyses")).json()["items"]
    assert [a["provider"] for a in history] == ["second", "environment"]
    assert history[0]["requested_by"] == "user:test-admin" and history[0]["model"] == "openai/gpt-4o"
    assert fake.chat_requests[-1].headers["authorization"] == "Bearer sk-second"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"provider_id": 999}, 422),
        ({"provider_id": "x"}, 422),
        ({"provider_id": -1}, 422),
        ({"provider_id": 2**40}, 422),
        ({"unexpected": 1}, 422),
        ([1, 2], 422),
    ],
)
async def test_analyze_refuses_bad_requests(post_webhook, client, llm_env, body, status):
    alert_id = await critical(post_webhook)
    r = await client.post(f"/api/alerts/{alert_id}/analyze", json=body)
    assert r.status_code == status, r.text


async def test_analyze_answers_404_401_and_409(post_webhook, client, anon, llm_env, fake):
    assert (await client.post("/api/alerts/999999/analyze")).status_code == 404
    alert_id = await critical(post_webhook)
    assert (await anon.post(f"/api/alerts/{alert_id}/analyze")).status_code == 401
    # A queued automatic job becomes the user's request (one job in flight per alert).
    first = await client.post(f"/api/alerts/{alert_id}/analyze")
    second = await client.post(f"/api/alerts/{alert_id}/analyze")
    assert first.status_code == second.status_code == 202 and first.json()["id"] == second.json()["id"]
    fake.script(hang())
    async with running(AnalysisWorker()):
        await fake.wait_for_requests_async(1)
        busy = await client.post(f"/api/alerts/{alert_id}/analyze")
        assert busy.status_code == 409 and "already running" in busy.json()["error"]
    assert len(await job_rows()) == 1


async def test_daily_budget_pauses_automatic_analysis_only(post_webhook, client, llm_env, fake):
    llm_env(LLM_DAILY_BUDGET_USD="0.0000001")
    await critical(post_webhook, "First")
    async with running(AnalysisWorker()):
        await wait_jobs(all_done)
        costs.clear_cache()
        second = await critical(post_webhook, "Second")
        assert (await client.get("/api/costs")).json()["budget_reached"] is True
        # A user's request (queued after the automatic one) still runs, while the automatic one waits.
        third = await client.post(f"/api/alerts/{await critical(post_webhook, 'Third')}/analyze")
        assert third.status_code == 202
        rows = await wait_jobs(lambda rows: len(rows) == 3 and rows[2].status == "succeeded")
        assert [j.status for j in rows] == ["succeeded", "pending", "succeeded"]
        # Asking for the waiting one makes it a user's request: it runs.
        assert (await client.post(f"/api/alerts/{second}/analyze")).status_code == 202
        rows = await wait_jobs(all_done)
    assert [j.status for j in rows] == ["succeeded"] * 3 and not rows[1].automatic


async def test_a_job_whose_worker_vanished_is_reclaimed_after_its_lease(post_webhook, llm_env, fake):
    llm_env(ANALYSIS_LEASE_SECONDS="1")
    await critical(post_webhook)
    async with async_session() as session:
        claimed = await claims.claim(session, "vanished-worker")
        await session.commit()
    assert claimed is not None
    async with running(AnalysisWorker()):
        [job] = await wait_jobs(all_done)
    assert job.status == "succeeded" and job.attempts == 2 and job.locked_by != "vanished-worker"
    # The old owner waking up cannot store a second result.
    async with async_session() as session:
        assert not await claims.fail(session, claimed, "vanished-worker", "late")
        await session.commit()
    assert [j.status for j in await job_rows()] == ["succeeded"]
    assert len(fake.chat_requests) == 1


WORKER_SCRIPT = textwrap.dedent(
    """
    import asyncio
    from remediation_app.services.llm.worker import AnalysisWorker
    asyncio.run(AnalysisWorker(name="doomed").run())
    """
)


async def test_a_worker_killed_mid_job_leaves_a_job_that_completes_exactly_once(
    post_webhook, llm_env, fake, app_settings
):
    llm_env(ANALYSIS_LEASE_SECONDS="1.5")
    await critical(post_webhook)
    fake.script(hang())
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", WORKER_SCRIPT], cwd=ROOT, env=env, start_new_session=True)
    try:
        await fake.wait_for_requests_async(1, timeout=30)  # the doomed worker is mid-call
        [job] = await job_rows()
        assert job.status == "running" and job.locked_by == "doomed"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    async with running(AnalysisWorker()):
        [job] = await wait_jobs(all_done)
    assert job.status == "succeeded" and job.attempts == 2
    async with async_session() as session:
        count = (await session.exec(sa.text("SELECT count(*) FROM analyses"))).scalar_one()  # type: ignore[call-overload]
    assert count == 1 and len(fake.chat_requests) == 2


async def test_two_workers_never_run_the_same_job(post_webhook, llm_env, fake, db_kind):
    llm_env(STORM_THRESHOLD="0")  # 20 alerts of one group: one job each, not one for the group
    fake.default = reply(delay=0.05)
    alerts = [am_alert(f"Many{i}", severity="critical") for i in range(20)]
    assert (await post_webhook(notification(*alerts))).status_code == 200
    async with running(AnalysisWorker(concurrency=4, name="w1"), AnalysisWorker(concurrency=4, name="w2")):
        rows = await wait_jobs(lambda rows: len(rows) == 20 and all_done(rows), timeout=60)
    assert all(j.status == "succeeded" and j.attempts == 1 for j in rows)
    assert len(fake.chat_requests) == 20
    async with async_session() as session:
        per_job = (
            await session.exec(sa.text("SELECT job_id, count(*) FROM analyses GROUP BY job_id"))  # type: ignore[call-overload]
        ).all()
    assert len(per_job) == 20 and all(count == 1 for _, count in per_job)
    if db_kind == "postgres":
        assert {j.locked_by for j in rows} == {"w1", "w2"}  # both shared the queue


async def test_unstructured_json_values_are_bounded(post_webhook, client, llm_env, fake):
    fake.script(reply_json({**GOOD_ANALYSIS, "root_cause": "x" * 50_000, "immediate_actions": [{"d": 1}] * 500}))
    alert_id = await critical(post_webhook)
    async with running(AnalysisWorker()):
        await wait_jobs(all_done)
    analysis = (await client.get(f"/api/alerts/{alert_id}")).json()["analysis"]
    assert len(analysis["root_cause"]) < 9000 and len(analysis["immediate_actions"]) <= 20


async def test_a_job_that_kills_every_worker_is_not_run_forever(post_webhook, llm_env, fake, db):
    llm_env(ANALYSIS_LEASE_SECONDS="1", ANALYSIS_MAX_ATTEMPTS="2")
    await critical(post_webhook)
    for name in ("crashed-1", "crashed-2"):  # two workers died holding it
        async with async_session() as session:
            assert await claims.claim(session, name) is not None
            await session.commit()
        db.execute("UPDATE analysis_jobs SET lease_expires_at = :t", t="2000-01-01 00:00:00")
    async with running(AnalysisWorker()):
        [job] = await wait_jobs(all_done)
    assert job.status == "failed" and "stopped on every attempt" in job.last_error
    assert fake.chat_requests == []
