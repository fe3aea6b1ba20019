"""Scoring an answer against its case's rubric: deterministic checks first, then (when a judge model
is given) an LLM judge for paraphrase, whose reasons are kept.

- A fact holds when its phrases or patterns match the root cause (and the leading hypothesis), or
  when the judge says the answer states it in other words.
- A forbidden claim is made when its phrases match, unless the judge read the answer and says it is
  not claimed (it may be mentioned only to be ruled out); the judge may also find it paraphrased.
- The fix is proposed when a command or step matches, or the judge says so.
The answer passes when every fact holds, no forbidden claim is made and the fix (if any) is proposed.
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
import secrets
from dataclasses import asdict, dataclass, field
from typing import Any

from remediation_app.services.evals.cases import Case, Check
from remediation_app.services.llm.analysis import Parsed
from remediation_app.services.llm.client import complete
from remediation_app.services.llm.config import ProviderConfig
from remediation_app.services.llm.errors import LLMError
from remediation_app.services.llm.prompts import render

ANSWER_MAX = 8000  # characters of the answer's claim checked (and shown to the judge)
REASON_MAX = 500


@dataclass
class CheckResult:
    """One check's outcome. `ok`: the answer did the right thing (stated the fact, avoided the claim,
    proposed the fix). `rule`: the phrase or pattern that matched ("" none); `judge`: what the judge
    found (None: not asked or no answer for it) and why."""

    kind: str  # fact, forbidden, fix
    name: str
    ok: bool
    rule: str = ""
    judge: bool | None = None
    reason: str = ""


@dataclass
class Score:
    passed: bool
    score: float  # checks met / checks
    checks: list[CheckResult] = field(default_factory=list)
    judge_model: str = ""
    judge_summary: str = ""
    judge_error: str = ""
    judge_cost_usd: float | None = None
    judge_tokens: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Answer:
    """What is graded: the claim (root cause, leading hypothesis) and the proposed actions."""

    claim: str
    actions: str
    structured: bool

    @classmethod
    def of(cls, parsed: Parsed, raw: str) -> Answer:
        if not parsed.structured:
            return cls(claim=raw[:ANSWER_MAX], actions=raw[:ANSWER_MAX], structured=False)
        result = parsed.result
        hypotheses = result.get("hypotheses") or []
        claim = "\n".join(p for p in (result.get("root_cause") or "", _first(hypotheses)) if p)
        actions = [f"{a.get('description', '')}\n{a.get('command', '')}" for a in result.get("immediate_actions") or []]
        actions.extend(result.get("remediation_steps") or [])
        return cls(claim=claim[:ANSWER_MAX], actions="\n".join(actions)[:ANSWER_MAX], structured=True)

    def for_judge(self) -> dict[str, Any]:
        return {"root_cause_and_leading_hypothesis": self.claim, "actions_and_commands": self.actions}


def _first(hypotheses: list[dict[str, Any]]) -> str:
    return str(hypotheses[0].get("explanation") or "") if hypotheses else ""


@functools.lru_cache(maxsize=4096)
def _phrase(phrase: str) -> re.Pattern[str]:
    """A phrase as a pattern: case and spacing ignored, whole words at its ends."""
    body = r"\s+".join(re.escape(word) for word in phrase.split())
    start = r"(?<![\w])" if phrase[:1].isalnum() else ""
    end = r"(?![\w])" if phrase[-1:].isalnum() else ""
    return re.compile(start + body + end, re.IGNORECASE)


def matched(check: Check, text: str) -> str:
    """The first phrase or pattern of `check` found in `text`, or ""."""
    for phrase in check.any:
        if phrase.strip() and _phrase(phrase).search(text):
            return phrase
    for pattern in check.regex:
        if re.search(pattern, text, re.IGNORECASE | re.MULTILINE):
            return f"/{pattern}/"
    return ""


def rule_checks(case: Case, answer: Answer) -> list[CheckResult]:
    """The deterministic checks."""
    rubric = case.expected
    results = []
    for fact in rubric.facts:
        hit = matched(fact, answer.claim)
        results.append(CheckResult("fact", fact.name, ok=bool(hit), rule=hit))
    for claim in rubric.forbidden:
        hit = matched(claim, answer.claim)
        results.append(CheckResult("forbidden", claim.name, ok=not hit, rule=hit))
    if rubric.fix is not None:
        hit = matched(rubric.fix, answer.actions)
        results.append(CheckResult("fix", rubric.fix.name, ok=bool(hit), rule=hit))
    return results


def finish(checks: list[CheckResult], **judged: Any) -> Score:
    met = sum(1 for c in checks if c.ok)
    return Score(passed=all(c.ok for c in checks), score=met / len(checks) if checks else 0.0, checks=checks, **judged)


def score_rules(case: Case, answer: Answer) -> Score:
    return finish(rule_checks(case, answer))


def rubric_for_judge(case: Case) -> dict[str, Any]:
    rubric = case.expected
    checks = [{"kind": "fact", "name": c.name, "means": _meaning(c)} for c in rubric.facts]
    checks += [{"kind": "forbidden", "name": c.name, "means": _meaning(c)} for c in rubric.forbidden]
    if rubric.fix is not None:
        checks.append({"kind": "fix", "name": rubric.fix.name, "means": _meaning(rubric.fix)})
    return {"case": case.title, "checks": checks}


def _meaning(check: Check) -> str:
    words = check.description or check.name
    if check.any:
        words += " (for example: " + "; ".join(check.any[:8]) + ")"
    return words


def _json_object(text: str) -> dict[str, Any] | None:
    with contextlib.suppress(ValueError, RecursionError):
        value = json.loads(text.strip())
        if isinstance(value, dict):
            return value
    start = text.find("{")
    while start != -1:
        try:
            value, _ = json.JSONDecoder().raw_decode(text, start)
        except (ValueError, RecursionError):
            start = text.find("{", start + 1)
            continue
        return value if isinstance(value, dict) else None
    return None


def _verdicts(data: dict[str, Any]) -> dict[tuple[str, str], tuple[bool, str]]:
    found: dict[tuple[str, str], tuple[bool, str]] = {}
    for item in data.get("checks") or []:
        if not isinstance(item, dict) or not isinstance(item.get("holds"), bool):
            continue
        key = (str(item.get("kind", "")).strip().lower(), str(item.get("name", "")).strip())
        found[key] = (item["holds"], str(item.get("reason") or "")[:REASON_MAX])
    return found


def combine(checks: list[CheckResult], verdicts: dict[tuple[str, str], tuple[bool, str]]) -> list[CheckResult]:
    """The judge's verdicts merged into the rule checks (see the module)."""
    out = []
    for check in checks:
        verdict = verdicts.get((check.kind, check.name))
        if verdict is None:
            out.append(check)
            continue
        holds, reason = verdict
        ok = not holds if check.kind == "forbidden" else check.ok or holds
        out.append(CheckResult(check.kind, check.name, ok=ok, rule=check.rule, judge=holds, reason=reason))
    return out


async def judge(case: Case, answer: Answer, provider: ProviderConfig) -> Score:
    """Rules, then the judge. A judge that fails or answers nonsense leaves the rules' verdict, with
    the reason in `judge_error` (never raises for the judge's fault)."""
    checks = rule_checks(case, answer)
    nonce = secrets.token_hex(8)
    messages = [
        {"role": "system", "content": render("eval_judge_system.j2", nonce=nonce)},
        {
            "role": "user",
            "content": render(
                "eval_judge_user.j2", nonce=nonce, rubric=rubric_for_judge(case), answer=answer.for_judge()
            ),
        },
    ]
    try:
        completion = await complete(provider, messages, json_mode=True)
    except LLMError as exc:
        return finish(checks, judge_model=provider.model, judge_error=f"the judge failed: {exc}"[:REASON_MAX])
    tokens = (completion.prompt_tokens or 0) + (completion.completion_tokens or 0)
    spent = {"judge_model": provider.model, "judge_cost_usd": completion.cost_usd, "judge_tokens": tokens}
    data = _json_object(completion.text)
    if data is None:
        return finish(checks, judge_error="the judge's answer is not a JSON object", **spent)
    verdicts = _verdicts(data)
    missing = [c.name for c in checks if (c.kind, c.name) not in verdicts]
    error = f"the judge gave no verdict on: {', '.join(missing)}"[:REASON_MAX] if missing else ""
    summary = str(data.get("summary") or "")[: REASON_MAX * 2]
    return finish(combine(checks, verdicts), judge_summary=summary, judge_error=error, **spent)
