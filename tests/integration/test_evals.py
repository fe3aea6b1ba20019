"""The evaluation harness end to end against the scripted provider (tests/support/fake_llm.py over real
HTTP, LiteLLM unpatched) and a scripted judge: `eval run` on SQLite and PostgreSQL (totals, verdicts,
the report, --json), the cost cap and resuming, and a recorded outcome exported into a case that
evaluates.

Plain (not async) tests where the command line runs: it runs its own event loop, as from a shell.
"""

from __future__ import annotations

import asyncio
import json
import re
import string
from collections.abc import Iterator
from pathlib import Path
from random import choices

import pytest
from sqlmodel import col, select

from remediation_app import cli
from remediation_app.db import async_session, dispose_engines
from remediation_app.models import Analysis, EvalResult, IncidentOutcome, utcnow
from remediation_app.services.evals.cases import load_case, load_cases
from remediation_app.services.evals.export import export_cases
from remediation_app.services.evals.replay import CaseReplay
from remediation_app.services.evals.runner import RunOptions, run_cases
from remediation_app.services.evals.store import get_run
from remediation_app.services.investigation.evidence import gather
from tests.conftest import sqlite_only
from tests.support.evals import BAD, CASES, GOOD, JUDGE, WRONG, alertname, analysis, model_step
from tests.support.fake_llm import FakeLLM, error


@pytest.fixture
def fake() -> Iterator[FakeLLM]:
    with FakeLLM() as server:
        server.default = model_step
        yield server


@pytest.fixture
def eval_env(app_settings: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")  # LiteLLM reads the provider's usual variable
    return app_settings


def test_eval_run_scores_each_model_and_writes_the_report(
    eval_env: str, fake: FakeLLM, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["eval", "run", "--model", GOOD, "--model", BAD, "--judge-model", JUDGE, "--api-base", fake.api_base]
    argv += [arg for case in CASES for arg in ("--case", case)]
    status = cli.main([*argv, "--concurrency", "3", "--report", str(tmp_path / "report.html"), "--json"])
    out = capsys.readouterr()
    assert status == 0, out.err
    assert fake.step_errors == []

    totals = json.loads(out.out.strip().splitlines()[-1])  # one JSON object on the last line
    assert set(totals) == {GOOD, BAD}  # a key per model, nothing else
    run_id, status = re.search(r"^run (\d+): (\w+)$", out.err, re.M).groups()  # type: ignore[union-attr]
    assert status == "finished"
    good, bad = totals[GOOD], totals[BAD]
    assert (good["cases"], good["passed"], good["pass_rate"], good["tool_calls"]) == (3, 3, 1.0, 1)
    assert (bad["cases"], bad["passed"], bad["pass_rate"], bad["tool_calls"]) == (3, 1, 0.3333, 0)
    for figures in (good, bad):
        assert figures["cost_usd"] > 0  # LiteLLM's prices for these model names
        assert 0 < figures["latency_p50_s"] <= figures["latency_p95_s"] < 60
        assert {"cases", "passed", "pass_rate", "cost_usd", "latency_p50_s", "latency_p95_s", "tool_calls"} <= set(
            figures
        )

    results = _results(int(run_id))
    verdicts = {(r.model, r.case_id): r.status for r in results}
    assert verdicts == {
        (GOOD, "disk-full-app-logs"): "passed",
        (GOOD, "fd-leak"): "passed",
        (GOOD, "red-herring-page-cache"): "passed",
        (BAD, "disk-full-app-logs"): "passed",
        (BAD, "fd-leak"): "failed",
        (BAD, "red-herring-page-cache"): "failed",
    }
    # The paraphrase: the rules missed the facts, the judge found them, and its reasons are kept.
    page_cache = next(r for r in results if (r.model, r.case_id) == (GOOD, "red-herring-page-cache"))
    facts = [c for c in page_cache.checks if c["kind"] == "fact"]
    assert all(c["ok"] and c["judge"] is True and not c["rule"] for c in facts)
    assert facts[0]["reason"].startswith("scripted: the answer is right")
    assert page_cache.judge["model"] == JUDGE and page_cache.judge["summary"] == "scripted verdict"
    assert page_cache.judge_cost_usd is not None and page_cache.judge_cost_usd > 0
    wrong_fd = next(r for r in results if (r.model, r.case_id) == (BAD, "fd-leak"))
    assert {c["name"]: (c["ok"], c["rule"]) for c in wrong_fd.checks}["disk"] == (False, "disk is full")
    # The replayed datasource answered the model's query with the case's series.
    [answered] = [r.tool_messages[0]["content"] for r in fake.chat_requests if r.tool_messages]
    assert re.search(r'process_open_fds\{instance="gw-2:9090",job="gateway"\}: [0-9]+ points', answered), answered
    tool_case = next(r for r in results if (r.model, r.case_id) == (GOOD, "fd-leak"))
    assert tool_case.details["queries"][-1] == 'process_open_fds{job="gateway"}' and tool_case.tool_calls == 1

    html = (tmp_path / "report.html").read_text()
    assert html.count('data-status="passed"') == 4 and html.count('data-status="failed"') == 2
    assert "<svg" in html and "Pass rate" in html
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["totals"][GOOD]["passed"] == 3 and len(report["results"]) == 6
    assert "[6/6] " in out.err  # progress, one line per case


def _results(run_id: int) -> list[EvalResult]:
    async def read() -> list[EvalResult]:
        try:
            async with async_session() as session:
                return (await get_run(session, run_id))[1]
        finally:
            await dispose_engines()

    return asyncio.run(read())


@sqlite_only
@pytest.mark.anyio
async def test_the_cost_cap_stops_a_run_and_a_resumed_run_skips_finished_cases(eval_env: str, fake: FakeLLM) -> None:
    cases = [c for c in load_cases() if c.id in CASES]
    options = RunOptions(models=[GOOD], api_base=fake.api_base, concurrency=1, budget_usd=1e-9)
    run = await run_cases(cases, options)
    assert run.status == "budget" and "cost cap" in run.note
    [first] = await _stored(run.id)
    assert first.status == "passed" and first.cost_usd and first.cost_usd > 0

    # Resumed without a cap: the finished case is not asked again; one case fails at the provider.
    asked_before = len(fake.chat_requests)
    fake.default = lambda request: (
        error(400, {"error": {"message": "scripted refusal", "type": "invalid_request_error"}})
        if alertname(request) == "ContainerMemoryNearLimit"
        else model_step(request)
    )
    run = await run_cases(cases, RunOptions(models=[GOOD], api_base=fake.api_base, concurrency=2), resume=run.id)
    assert run.status == "finished"
    asked = {alertname(r) for r in fake.chat_requests[asked_before:]}
    assert "NodeFilesystemAlmostFull" not in asked and {"ProcessFdsNearLimit", "ContainerMemoryNearLimit"} <= asked
    by_case = {r.case_id: r for r in await _stored(run.id)}
    assert (
        by_case["red-herring-page-cache"].status == "error"
        and "scripted refusal" in by_case["red-herring-page-cache"].error
    )
    assert run.totals[GOOD]["errors"] == 1 and run.totals[GOOD]["cases"] == 3

    # Resumed again: only the case that ended in an error runs.
    fake.default = model_step
    asked_before = len(fake.chat_requests)
    run = await run_cases(cases, RunOptions(models=[GOOD], api_base=fake.api_base), resume=run.id)
    assert {alertname(r) for r in fake.chat_requests[asked_before:]} == {"ContainerMemoryNearLimit"}
    # Rules only (no judge): the paraphrase of the page-cache case is not recognised.
    assert [(r.case_id, r.status) for r in await _stored(run.id)] == [
        ("disk-full-app-logs", "passed"),
        ("fd-leak", "passed"),
        ("red-herring-page-cache", "failed"),
    ]
    assert run.totals[GOOD]["passed"] == 2 and run.totals[GOOD]["errors"] == 0


async def _stored(run_id: int | None) -> list[EvalResult]:
    async with async_session() as session:
        rows = await session.exec(
            select(EvalResult).where(col(EvalResult.run_id) == run_id).order_by(col(EvalResult.id))
        )
        return list(rows.all())


SECRET = "AKIA" + "".join(choices(string.ascii_uppercase + string.digits, k=16))


@sqlite_only
@pytest.mark.anyio
async def test_an_exported_outcome_evaluates_as_a_case(eval_env: str, fake: FakeLLM, tmp_path: Path) -> None:
    """The outcome of an analysis of the fd-leak case, recorded by a person (the analysis was wrong; a
    verified fix), exported with its evidence as recorded, then evaluated."""
    [source] = [c for c in load_cases() if c.id == "fd-leak"]
    replay = CaseReplay(source, utcnow().replace(microsecond=0))
    alert = replay.alert()
    alert.annotations = {**alert.annotations, "runbook": f"aws key {SECRET} in the runbook"}
    sources = replay.sources()
    investigation = await gather(
        alert, (await sources.datasource(alert))[0], open_client=sources.open_client, store=sources.store
    )
    await sources.results(investigation, alert)
    async with async_session() as session:
        session.add(alert)
        await session.flush()
        assert alert.id is not None
        wrong = analysis(*WRONG["ProcessFdsNearLimit"])
        row = Analysis(
            alert_id=alert.id, provider_name="env", model="gpt-x", structured=True, result=wrong, created_at=utcnow()
        )
        session.add(row)
        await session.flush()
        assert row.id is not None
        session.add_all([item.row(row.id) for item in investigation.items])
        session.add(
            IncidentOutcome(
                alert_id=alert.id,
                analysis_id=row.id,
                alertname=alert.alertname,
                verdict="wrong",
                root_cause="Sockets to the upstream leak in release 4.2; descriptors reach the 65536 limit.",
                fix="restarted the gateway",
                commands=["systemctl restart gateway"],
                fix_status="verified",
                created_by="alice",
                created_at=utcnow(),
                updated_at=utcnow(),
            )
        )
        await session.commit()

        exported = await export_cases(session, tmp_path / "exported")
    assert exported.skipped == [] and len(exported.written) == 1
    text = exported.written[0].read_text()
    assert SECRET not in text and "[REDACTED-" in text

    case = load_case(exported.written[0])
    assert [f.name for f in case.expected.facts] == ["root-cause"] and case.expected.fix is not None
    assert [c.name for c in case.expected.forbidden] == ["the-wrong-cause"]
    assert {q.query for q in case.queries} >= {'process_open_fds{job="gateway"} / process_max_fds{job="gateway"}'}
    assert case.diagnostics and case.diagnostics[0].stdout.startswith("64911")

    replayed = CaseReplay(case, utcnow().replace(microsecond=0))
    _, body = replayed.answer(
        "api/v1/query", {"query": 'process_open_fds{job="gateway"} / process_max_fds{job="gateway"}'}
    )
    assert json.loads(body)["data"]["result"], "the recorded series answer again"

    options = RunOptions(models=[GOOD, BAD], api_base=fake.api_base, judge_model=JUDGE)
    run = await run_cases([case], options)
    by_model = {r.model: r for r in await _stored(run.id)}
    assert (by_model[GOOD].status, by_model[BAD].status) == ("passed", "failed")
    assert {c["name"]: c["ok"] for c in by_model[BAD].checks} == {
        "root-cause": False,
        "the-wrong-cause": False,
        "fix": False,
    }
    assert {c["name"]: c["ok"] for c in by_model[GOOD].checks} == {
        "root-cause": True,
        "the-wrong-cause": True,
        "fix": True,
    }


@sqlite_only
def test_eval_commands_refuse_bad_input(eval_env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("title: x\npayload: {alerts: []}\nexpected: {facts: [{name: a, regex: ['(']}]}\n")
    assert cli.main(["eval", "validate", "--cases", str(broken)]) == 1
    err = capsys.readouterr().err
    assert "broken.yaml: expected.facts[0].regex: '(' is not a valid regular expression" in err
    assert (
        cli.main(["eval", "run", "--cases", str(broken), "--model", GOOD, "--report", str(tmp_path / "out" / "r")]) == 1
    )
    assert "the cases do not load" in capsys.readouterr().err
    for argv, message in [
        (["--model", "not a model"], "is not a LiteLLM model name"),
        (["--model", GOOD, "--model", GOOD], "each model once"),
        (["--model", GOOD, "--concurrency", "0"], "--concurrency: from 1 to 32"),
        (["--model", GOOD, "--budget-usd", "-1"], "--budget-usd: a positive amount"),
        (["--model", GOOD, "--api-base", "ftp://x"], "--api-base: an http:// or https:// URL"),
        (["--model", GOOD, "--case", "no-such-case"], "--case: no such case: no-such-case"),
        (["--resume", "999"], "--resume: no evaluation run #999"),
        ([], "--model: give at least one model"),
    ]:
        assert cli.main(["eval", "run", *argv, "--report", str(tmp_path / "out" / "r.html")]) == 1, argv
        assert message in capsys.readouterr().err, argv
    assert cli.main(["eval", "show", "999"]) == 1
    assert "no evaluation run #999" in capsys.readouterr().err
    assert cli.main(["eval", "list", "--limit", "0"]) == 1
    assert "--limit: from 1 to 10000" in capsys.readouterr().err
    assert cli.main(["eval", "export", "--out", str(tmp_path / "exported")]) == 0
    assert capsys.readouterr().out == f"exported 0 cases to {tmp_path / 'exported'}\n"
    assert cli.main(["eval", "validate"]) == 0
    assert re.match(r"\d+ cases valid", capsys.readouterr().out)
    assert not (tmp_path / "out").exists()  # nothing written for a refused run
