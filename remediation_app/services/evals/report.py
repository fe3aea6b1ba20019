"""A run's figures: totals per model (pass rate, cost, latency percentiles, tokens, tool calls) and the
report as JSON; report_html.py draws the same as a page with charts."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from remediation_app.services.records import isoformat

if TYPE_CHECKING:
    from remediation_app.models import EvalResult, EvalRun


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100) by linear interpolation between the closest ranks; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _round(value: float | None, digits: int = 6) -> float | None:
    return None if value is None else round(value, digits)


def model_totals(results: Sequence[EvalResult]) -> dict[str, Any]:
    """One model's figures over its results. Latency percentiles leave out cases that ended in an
    error (no answer); cost is None when no result had a known price (a model LiteLLM cannot price)."""
    cases = len(results)
    passed = sum(1 for r in results if r.status == "passed")
    errors = sum(1 for r in results if r.status == "error")
    latencies = [r.latency_ms / 1000 for r in results if r.status != "error"]
    priced = [r.cost_usd for r in results if r.cost_usd is not None]
    judged = [r.judge_cost_usd for r in results if r.judge_cost_usd is not None]
    cost = sum(priced) if priced else None
    return {
        "cases": cases,
        "passed": passed,
        "failed": cases - passed - errors,
        "errors": errors,
        "pass_rate": round(passed / cases, 4) if cases else 0.0,
        "score_mean": round(sum(r.score for r in results) / cases, 4) if cases else 0.0,
        "cost_usd": _round(cost),
        "cost_per_case_usd": _round(cost / cases) if cost is not None and cases else None,
        "judge_cost_usd": _round(sum(judged)) if judged else None,
        "latency_p50_s": _round(percentile(latencies, 50), 3),
        "latency_p95_s": _round(percentile(latencies, 95), 3),
        "prompt_tokens": sum(r.prompt_tokens or 0 for r in results),
        "completion_tokens": sum(r.completion_tokens or 0 for r in results),
        "tool_calls": sum(r.tool_calls for r in results),
    }


def totals(results: Iterable[EvalResult], models: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Per model (in the run's order, then any other model found), its `model_totals`."""
    by_model: dict[str, list[EvalResult]] = {model: [] for model in models}
    for result in results:
        by_model.setdefault(result.model, []).append(result)
    return {model: model_totals(rows) for model, rows in by_model.items()}


def summary_line(run: EvalRun) -> dict[str, Any]:
    """What `eval run --json` prints: one key per model, its totals (cases, passed, pass_rate,
    cost_usd, latency_p50_s, latency_p95_s, tool_calls, ...). The run's id and status go to
    standard error, so that every key of the line is a model."""
    return dict(run.totals)


def run_public(row: EvalRun) -> dict[str, Any]:
    return {
        "id": row.id,
        "status": row.status,
        "note": row.note,
        "cases_path": row.cases_path,
        "cases": len(row.case_ids),
        "models": list(row.models),
        "judge_model": row.judge_model,
        "api_base": row.api_base,
        "tool_calling": row.tool_calling,
        "concurrency": row.concurrency,
        "budget_usd": row.budget_usd,
        "cost_usd": round(row.cost_usd, 6),
        "totals": row.totals,
        "created_by": row.created_by,
        "created_at": isoformat(row.created_at),
        "finished_at": isoformat(row.finished_at),
    }


def result_public(row: EvalResult) -> dict[str, Any]:
    return {
        "model": row.model,
        "case_id": row.case_id,
        "case_title": row.case_title,
        "difficulty": row.difficulty,
        "tags": list(row.tags),
        "status": row.status,
        "score": round(row.score, 4),
        "checks": row.checks,
        "judge": row.judge,
        "root_cause": row.root_cause,
        "error": row.error,
        "cost_usd": row.cost_usd,
        "judge_cost_usd": row.judge_cost_usd,
        "prompt_tokens": row.prompt_tokens,
        "completion_tokens": row.completion_tokens,
        "latency_s": round(row.latency_ms / 1000, 3),
        "tool_calls": row.tool_calls,
        "details": row.details,
    }


def report_json(run: EvalRun, results: Sequence[EvalResult]) -> dict[str, Any]:
    return {
        "format": "remediation-engine-eval/1",
        "run": run_public(run),
        "totals": run.totals or totals(results, run.models),
        "results": [result_public(r) for r in results],
    }
