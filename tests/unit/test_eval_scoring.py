"""Scoring an answer (rules, and the judge's verdicts merged in) and a run's figures and report."""

from __future__ import annotations

import json

from remediation_app.models import EvalResult, EvalRun, utcnow
from remediation_app.services.evals.cases import Check, load_cases
from remediation_app.services.evals.report import percentile, report_json, totals
from remediation_app.services.evals.report_html import report_html
from remediation_app.services.evals.scoring import Answer, combine, matched, rule_checks, score_rules
from remediation_app.services.llm.analysis import Parsed

DISK = next(c for c in load_cases() if c.id == "disk-full-app-logs")


def answer(root_cause: str, command: str = "", hypothesis: str = "") -> Answer:
    result = {
        "root_cause": root_cause,
        "hypotheses": [{"explanation": hypothesis, "confidence": 0.6}] if hypothesis else [],
        "immediate_actions": [{"description": "act", "command": command, "risk": "low"}] if command else [],
        "remediation_steps": [],
    }
    return Answer.of(Parsed(structured=True, result=result), "")


def test_phrases_match_whole_words_case_and_spacing_ignored() -> None:
    logs = DISK.expected.facts[0]
    assert matched(logs, "The /VAR/LOG/APP   directory grew") == "log"  # the first phrase found
    assert matched(Check(name="x", any=["log files"]), "old LOG \n  FILES") == "log files"
    assert matched(logs, "the service catalog grew") == ""  # "log" inside a word is not the word
    assert (
        matched(DISK.expected.facts[1], "Logs are NOT being compressed")
        == "/not (being )?(compressed|cleaned|pruned|purged)/"
    )


def test_rules_grade_the_root_cause_and_the_commands() -> None:
    right = score_rules(
        DISK, answer("Application logs under /var/log/app are not rotated.", "sudo logrotate -f /etc/logrotate.conf")
    )
    assert right.passed and right.score == 1.0
    assert [(c.kind, c.name, c.ok) for c in right.checks] == [
        ("fact", "logs", True),
        ("fact", "not-rotated", True),
        ("forbidden", "database", True),
        ("fix", "fix", True),
    ]
    wrong = score_rules(DISK, answer("PostgreSQL WAL filled /var.", "df -h", hypothesis="maybe logs"))
    assert not wrong.passed
    assert {c.name: c.ok for c in wrong.checks} == {"logs": True, "not-rotated": False, "database": False, "fix": False}
    assert wrong.score == 0.25
    # An answer that is not JSON is graded on its text.
    raw = Answer.of(Parsed(structured=False), "disk full of logs, no rotation; run logrotate")
    assert score_rules(DISK, raw).passed


def test_the_judge_adds_paraphrase_and_clears_a_claim_only_mentioned() -> None:
    checks = rule_checks(DISK, answer("Unrotated journal of the app; it is not the WAL."))
    assert {c.name: c.ok for c in checks} == {"logs": False, "not-rotated": True, "database": False, "fix": False}
    merged = combine(
        checks,
        {
            ("fact", "logs"): (True, "a journal is a log"),
            ("forbidden", "database"): (False, "the WAL is ruled out"),
            ("fix", "fix"): (False, "no command"),
        },
    )
    assert [(c.name, c.ok, c.judge, c.reason) for c in merged] == [
        ("logs", True, True, "a journal is a log"),
        ("not-rotated", True, None, ""),
        ("database", True, False, "the WAL is ruled out"),
        ("fix", False, False, "no command"),
    ]
    # A judge cannot clear a fact the rules found, but it can find a claim the rules missed.
    found = combine(checks, {("fact", "not-rotated"): (False, "?"), ("forbidden", "database"): (True, "claims it")})
    assert {c.name: c.ok for c in found}["not-rotated"] is True
    assert {c.name: c.ok for c in found}["database"] is False


def _result(model: str, case: str, status: str, latency_ms: int, cost: float | None, calls: int = 1) -> EvalResult:
    return EvalResult(
        run_id=1, model=model, case_id=case, case_title=f"<i>{case}</i>", status=status,
        score=1.0 if status == "passed" else 0.0, latency_ms=latency_ms, cost_usd=cost, tool_calls=calls,
        prompt_tokens=100, completion_tokens=10, root_cause="<script>alert(1)</script>",
        checks=[{"kind": "fact", "name": "x", "ok": status == "passed", "rule": "", "judge": None, "reason": ""}],
        created_at=utcnow(),
    )  # fmt: skip


def test_totals_report_the_pass_rate_cost_and_latency_percentiles() -> None:
    assert percentile([], 50) is None
    assert percentile([4.0, 1.0, 2.0, 3.0], 50) == 2.5
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0], 95) == 4.8
    results = [
        _result("a", "c1", "passed", 1000, 0.01),
        _result("a", "c2", "failed", 3000, 0.03, calls=4),
        _result("a", "c3", "error", 50, None, calls=0),
        _result("b", "c1", "passed", 2000, None),
    ]
    figures = totals(results, ["a", "b", "c"])
    a = figures["a"]
    assert (a["cases"], a["passed"], a["failed"], a["errors"], a["pass_rate"]) == (3, 1, 1, 1, 0.3333)
    assert (a["cost_usd"], a["cost_per_case_usd"], a["tool_calls"], a["prompt_tokens"]) == (0.04, 0.013333, 5, 300)
    assert (a["latency_p50_s"], a["latency_p95_s"]) == (2.0, 2.9)  # errors left out
    assert figures["b"]["cost_usd"] is None and figures["b"]["pass_rate"] == 1.0
    assert figures["c"]["cases"] == 0 and figures["c"]["latency_p50_s"] is None

    now = utcnow()
    run = EvalRun(id=7, status="finished", models=["a", "b"], case_ids=["c1", "c2", "c3"], totals=figures,
                  created_at=now, updated_at=now, cost_usd=0.04)  # fmt: skip
    page = report_html(run, results)
    assert "<svg" in page and "Pass rate" in page and "<script" not in page and "&lt;script&gt;" in page
    assert "<i>" not in page and page.count('data-status="passed"') == 2 and 'data-status="error"' in page
    assert "http" not in page.replace("http://www.w3.org/2000/svg", "")  # nothing fetched from elsewhere
    data = json.loads(json.dumps(report_json(run, results)))
    assert data["run"]["id"] == 7 and data["totals"]["a"]["passed"] == 1 and len(data["results"]) == 4
