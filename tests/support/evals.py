"""For the evaluation harness' tests: a scripted provider and judge (tests/support/fake_llm.py steps)
that answer some shipped cases right and others wrong, and runs stored directly (what `eval run`
would store) for the page's and the API's tests."""

from __future__ import annotations

import json
import re
from typing import Any

from remediation_app.db import async_session
from remediation_app.models import EvalResult, EvalRun, EvalRunStatus, utcnow
from remediation_app.services.evals.report import totals
from tests.support.fake_llm import RecordedRequest, Step, reply_json, tool_call, tool_calls


async def stored_run(
    verdicts: dict[str, dict[str, str]], *, judge: str = "", status: EvalRunStatus = EvalRunStatus.FINISHED
) -> int:
    """A finished run: `verdicts` is {model: {case_id: passed|failed|error}}; returns its id."""
    models = list(verdicts)
    case_ids = sorted({case for cases in verdicts.values() for case in cases})
    now = utcnow()
    async with async_session() as session:
        run = EvalRun(
            status=status.value,
            case_ids=case_ids,
            models=models,
            judge_model=judge,
            created_by="test",
            created_at=now,
            updated_at=now,
            finished_at=now,
        )
        session.add(run)
        await session.flush()
        assert run.id is not None
        results: list[EvalResult] = []
        for model, cases in verdicts.items():
            for case_id, verdict in cases.items():
                checks: list[dict[str, Any]] = [
                    {
                        "kind": "fact",
                        "name": "cause",
                        "ok": verdict == "passed",
                        "rule": "",
                        "judge": None,
                        "reason": "",
                    }
                ]
                results.append(
                    EvalResult(
                        run_id=run.id,
                        model=model,
                        case_id=case_id,
                        case_title=f"Case {case_id}",
                        difficulty="medium",
                        status=verdict,
                        score=1.0 if verdict == "passed" else 0.0,
                        checks=checks if verdict != "error" else [],
                        root_cause="<b>not bold</b> the cause" if verdict != "error" else "",
                        error="provider failed" if verdict == "error" else "",
                        cost_usd=0.001 if verdict != "error" else None,
                        prompt_tokens=900,
                        completion_tokens=120,
                        latency_ms=1500,
                        tool_calls=2,
                        created_at=now,
                    )
                )
        session.add_all(results)
        run.totals = totals(results, models)
        run.cost_usd = sum(r.cost_usd or 0.0 for r in results)
        session.add(run)
        await session.commit()
        return run.id


GOOD, BAD, JUDGE = "openai/gpt-4o-mini", "openai/gpt-4o", "openai/gpt-4.1-mini"
CASES = ["disk-full-app-logs", "fd-leak", "red-herring-page-cache"]
# What the scripted models answer, by the analysed alert's name.
RIGHT = {
    "NodeFilesystemAlmostFull": (
        "Application logs under /var/log/app are not rotated and filled /var.",
        "logrotate -f /etc/logrotate.d/app",
    ),
    "ProcessFdsNearLimit": (
        "A socket leak: file descriptors grow and are never closed until the nofile limit.",
        "systemctl restart gateway",
    ),
    # A paraphrase the rules miss (no "cache", "working set", "false alarm"): the judge grades it.
    "ContainerMemoryNearLimit": (
        "The figure counts file-backed pages the kernel drops at will; resident memory holds steady near 150 MB "
        "and the rule measures the wrong thing.",
        "",
    ),
}
WRONG = {
    "ProcessFdsNearLimit": ("The disk is full on gw-2.", "df -h"),
    "ContainerMemoryNearLimit": ("fluent-bit is leaking: a memory leak.", "kubectl rollout restart ds/fluent-bit"),
}
RIGHT_TEXTS = {text for text, _ in RIGHT.values()}


def analysis(root_cause: str, command: str) -> dict[str, Any]:
    actions = [{"description": "act", "command": command, "risk": "low"}] if command else []
    return {
        "root_cause": root_cause,
        "impact": "users see errors",
        "immediate_actions": actions,
        "remediation_steps": [],
        "urgency": "HIGH",
        "confidence": 0.8,
    }


def alertname(request: RecordedRequest) -> str:
    text = "\n".join(str(m.get("content") or "") for m in request.messages)
    found = re.search(r'"alertname": "([A-Za-z]+)"', text)
    assert found is not None, "no alert in the prompt"
    return found.group(1)


def _quoted(request: RecordedRequest, name: str) -> Any:
    content = request.messages[-1]["content"]
    block = re.search(rf"<{name}-\w+>\n```json\n(.*?)\n```", content, re.DOTALL)
    assert block is not None, name
    return json.loads(block.group(1))


def judge_step(request: RecordedRequest) -> Step:
    """The scripted judge: an answer the script meant to be right states every fact, makes no
    forbidden claim and gives the fix; any other is wrong on all three."""
    rubric, answer = _quoted(request, "rubric"), _quoted(request, "answer")
    right = answer["root_cause_and_leading_hypothesis"] in RIGHT_TEXTS
    checks = [
        {
            "kind": c["kind"],
            "name": c["name"],
            "holds": (not right) if c["kind"] == "forbidden" else right,
            "reason": f"scripted: the answer is {'right' if right else 'wrong'} about {c['name']}",
        }
        for c in rubric["checks"]
    ]
    return reply_json({"checks": checks, "summary": "scripted verdict"})


def model_step(request: RecordedRequest) -> Step:
    model = request.json["model"]
    if model == JUDGE.split("/")[1]:
        return judge_step(request)
    name = alertname(request)
    if name == "ProcessFdsNearLimit" and model == GOOD.split("/")[1] and not request.tool_messages:
        return tool_calls([tool_call("promql_range", {"query": 'process_open_fds{job="gateway"}', "hours": 6})])
    text, command = (WRONG.get(name) or RIGHT[name]) if model == BAD.split("/")[1] else RIGHT[name]
    return reply_json(analysis(text, command))
