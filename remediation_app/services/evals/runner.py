"""An evaluation run: every case against every model, through the real investigation (prompt, tool
loop, parser) with the case replayed in place of live systems, scored, stored one result at a time.

- Concurrency is bounded (`concurrency` cases at once, over all models).
- The cost cap: once the run has spent `budget_usd` (models and judge, LiteLLM's prices) no further
  case starts; those in flight finish (so a run may pass the cap by up to `concurrency - 1` cases).
  The run ends with status "budget" and can be resumed with a higher cap.
- Resumable: a result is stored as soon as its case is scored; resuming a run skips the (model,
  case) pairs it has finished and runs the rest, and again those that ended in an error.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from remediation_app.db import async_session
from remediation_app.models import EvalResult, EvalResultStatus, EvalRun, EvalRunStatus, utcnow
from remediation_app.services.evals import store
from remediation_app.services.evals.cases import Case
from remediation_app.services.evals.replay import CaseReplay
from remediation_app.services.evals.scoring import Answer, Score, judge, score_rules
from remediation_app.services.evals.store import RunError
from remediation_app.services.investigation.run import investigate
from remediation_app.services.llm.config import TOOL_CALLING_MODES, ProviderConfig
from remediation_app.services.llm.errors import LLMError
from remediation_app.services.llm.providers import MODEL_RE

log = logging.getLogger(__name__)
MAX_MODELS = 20
MAX_CONCURRENCY = 32
ANSWER_KEPT = 20_000  # characters of an unstructured answer kept


@dataclass
class RunOptions:
    models: list[str]
    api_base: str = ""
    judge_model: str = ""
    concurrency: int = 4
    budget_usd: float | None = None
    tool_calling: str = "auto"
    timeout_s: float = 120.0
    cases_path: str = ""
    created_by: str = "cli"

    def check(self) -> None:
        if not self.models:
            raise RunError("--model: give at least one model")
        if len(self.models) > MAX_MODELS:
            raise RunError(f"--model: at most {MAX_MODELS} models in one run")
        for model in [*self.models, *([self.judge_model] if self.judge_model else [])]:
            if not MODEL_RE.match(model):
                raise RunError(f"{model!r} is not a LiteLLM model name such as openai/gpt-4o-mini or ollama/llama3")
        if len(set(self.models)) != len(self.models):
            raise RunError("--model: each model once")
        if not 1 <= self.concurrency <= MAX_CONCURRENCY:
            raise RunError(f"--concurrency: from 1 to {MAX_CONCURRENCY}")
        if self.budget_usd is not None and not self.budget_usd > 0:
            raise RunError("--budget-usd: a positive amount")
        if self.tool_calling not in TOOL_CALLING_MODES:
            raise RunError("--tool-calling: " + ", ".join(TOOL_CALLING_MODES))
        if not 1 <= self.timeout_s <= 3600:
            raise RunError("--timeout: from 1 to 3600 seconds")
        if self.api_base and not self.api_base.startswith(("http://", "https://")):
            raise RunError("--api-base: an http:// or https:// URL")

    def provider(self, model: str) -> ProviderConfig:
        # No key: LiteLLM reads the provider's usual variable (OPENAI_API_KEY, ANTHROPIC_API_KEY...).
        return ProviderConfig(
            id=0,
            name=model,
            model=model,
            api_base=self.api_base,
            timeout_s=self.timeout_s,
            tool_calling=self.tool_calling,
        )


@dataclass
class Progress:
    """What a caller is told as each case ends."""

    done: int
    total: int
    result: EvalResult


@dataclass
class _Run:
    run_id: int
    options: RunOptions
    spent: float
    budget_hit: bool = False
    done: int = 0
    total: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


async def evaluate(case: Case, provider: ProviderConfig, judge_provider: ProviderConfig | None) -> EvalResult:
    """One case against one model: investigate the replayed case, then score the answer. Provider
    errors become an "error" result, never an exception."""
    replay = CaseReplay(case, utcnow().replace(microsecond=0))
    row = EvalResult(
        run_id=0,
        model=provider.model,
        case_id=case.id,
        case_title=case.title,
        difficulty=case.difficulty,
        tags=list(case.tags),
        status=EvalResultStatus.ERROR.value,
        created_at=utcnow(),
    )
    started = time.perf_counter()
    try:
        outcome = await investigate(replay.alert(), provider, sources=replay.sources())
    except LLMError as exc:
        row.error, row.latency_ms = str(exc)[:2000], int((time.perf_counter() - started) * 1000)
        return row
    except Exception as exc:  # a bug must cost one case, not the run: logged with its trace
        log.exception("evaluation of case %s with %s failed", case.id, provider.model)
        row.error = f"the evaluation failed unexpectedly ({type(exc).__name__})"
        return row
    row.latency_ms = int((time.perf_counter() - started) * 1000)
    answer = Answer.of(outcome.parsed, outcome.text)
    score: Score = await judge(case, answer, judge_provider) if judge_provider else score_rules(case, answer)
    row.status = (EvalResultStatus.PASSED if score.passed else EvalResultStatus.FAILED).value
    row.score = score.score
    row.checks = [vars(check) for check in score.checks]
    row.judge = {
        "model": score.judge_model,
        "summary": score.judge_summary,
        "error": score.judge_error,
        "cost_usd": score.judge_cost_usd,
        "tokens": score.judge_tokens,
    }
    row.root_cause = answer.claim
    row.answer = outcome.parsed.result if outcome.parsed.structured else {"text": outcome.text[:ANSWER_KEPT]}
    row.cost_usd, row.judge_cost_usd = outcome.cost_usd, score.judge_cost_usd
    row.prompt_tokens, row.completion_tokens = outcome.prompt_tokens, outcome.completion_tokens
    calls = outcome.details.get("tool_calls") or []
    row.tool_calls = len(calls)
    row.details = {
        "tool_calls": calls,
        "queries": replay.asked[:100],
        "evidence": len(outcome.investigation.items),
        "stopped": outcome.details.get("stopped", ""),
        "steps": outcome.details.get("steps", 1),
        "tools": outcome.details.get("tools", False),
        "structured": outcome.parsed.structured,
    }
    return row


async def _one(
    run: _Run, case: Case, model: str, gate: asyncio.Semaphore, progress: Callable[[Progress], None]
) -> None:
    options = run.options
    async with gate:
        budget = options.budget_usd
        if budget is not None and run.spent >= budget:
            run.budget_hit = True
            return
        judge_provider = options.provider(options.judge_model) if options.judge_model else None
        row = await evaluate(case, options.provider(model), judge_provider)
        row.run_id = run.run_id
        async with run.lock:
            run.spent += (row.cost_usd or 0.0) + (row.judge_cost_usd or 0.0)
            run.done += 1
            done = run.done
        async with async_session() as session:
            await store.save_result(session, row)
        progress(Progress(done, run.total, row))


async def run_cases(
    cases: list[Case],
    options: RunOptions,
    *,
    resume: int | None = None,
    progress: Callable[[Progress], None] = lambda _p: None,
) -> EvalRun:
    """Run (or resume) an evaluation; returns the run as stored, its status and totals set.
    Raises RunError for options that cannot work."""
    options.check()
    if not cases:
        raise RunError("no case to run")
    async with async_session() as session:
        if resume is None:
            row = await store.create_run(session, options, [c.id for c in cases])
            finished: set[tuple[str, str]] = set()
            spent = 0.0
        else:
            row, finished, spent = await store.reopen_run(session, resume, options)
        await session.commit()
    assert row.id is not None
    pending = [(m, c) for m in options.models for c in cases if (m, c.id) not in finished]
    run = _Run(row.id, options, spent, total=len(pending))
    gate = asyncio.Semaphore(options.concurrency)
    status, note = EvalRunStatus.FINISHED, ""
    try:
        async with asyncio.TaskGroup() as group:  # a fault in one cancels the others
            for model, case in pending:
                group.create_task(_one(run, case, model, gate, progress))
    except BaseException as exc:  # Ctrl-C (cancelled), or a fault: the run is marked, then resumable
        status, note = EvalRunStatus.INTERRUPTED, f"stopped: {type(exc).__name__}"
        await asyncio.shield(_close(run.run_id, status, note))
        raise
    if run.budget_hit:
        status = EvalRunStatus.BUDGET
        note = f"the cost cap of ${options.budget_usd:g} was reached: resume with a higher --budget-usd"
    return await _close(run.run_id, status, note)


async def _close(run_id: int, status: EvalRunStatus, note: str) -> EvalRun:
    async with async_session() as session:
        row = await store.close_run(session, run_id, status, note)
        await session.commit()
        return row


def cases_label(path: Path | None) -> str:
    return str(path) if path is not None else "(shipped cases)"
