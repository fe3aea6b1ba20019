"""Evaluation runs and results in the database: create, resume, store a result, close with totals;
list runs, read one, compare models side by side (the admin page and the API read these)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlmodel import col, delete, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.models import EvalResult, EvalResultStatus, EvalRun, EvalRunStatus, utcnow
from remediation_app.services.bounded_http import display_url
from remediation_app.services.evals.report import totals

if TYPE_CHECKING:
    from remediation_app.services.evals.runner import RunOptions

MAX_COMPARED = 6  # runs side by side


class RunError(ValueError):
    """A run that cannot start (bad options, a run to resume that does not exist)."""


class RunNotFound(LookupError):
    """No evaluation run has that id."""


async def create_run(session: AsyncSession, options: RunOptions, case_ids: list[str]) -> EvalRun:
    now = utcnow()
    row = EvalRun(
        status=EvalRunStatus.RUNNING.value,
        cases_path=options.cases_path,
        case_ids=case_ids,
        models=list(options.models),
        judge_model=options.judge_model,
        api_base=display_url(options.api_base) if options.api_base else "",
        tool_calling=options.tool_calling,
        concurrency=options.concurrency,
        budget_usd=options.budget_usd,
        created_by=options.created_by,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    await session.flush()
    return row


async def reopen_run(
    session: AsyncSession, run_id: int, options: RunOptions
) -> tuple[EvalRun, set[tuple[str, str]], float]:
    """A run to resume: its errors dropped (they run again), what it finished, what it spent."""
    row = await session.get(EvalRun, run_id)
    if row is None:
        raise RunError(f"--resume: no evaluation run #{run_id}")
    await session.exec(
        delete(EvalResult).where(
            col(EvalResult.run_id) == run_id, col(EvalResult.status) == EvalResultStatus.ERROR.value
        )
    )
    results = list((await session.exec(select(EvalResult).where(col(EvalResult.run_id) == run_id))).all())
    finished = {(r.model, r.case_id) for r in results}
    spent = sum((r.cost_usd or 0.0) + (r.judge_cost_usd or 0.0) for r in results)
    row.status, row.note, row.finished_at, row.updated_at = EvalRunStatus.RUNNING.value, "", None, utcnow()
    row.models = list(dict.fromkeys([*row.models, *options.models]))
    row.budget_usd, row.concurrency = options.budget_usd, options.concurrency
    session.add(row)
    return row, finished, spent


async def save_result(session: AsyncSession, row: EvalResult) -> None:
    session.add(row)
    await session.commit()


async def results_of(session: AsyncSession, run_id: int) -> list[EvalResult]:
    query = select(EvalResult).where(col(EvalResult.run_id) == run_id)
    return list((await session.exec(query.order_by(col(EvalResult.case_id), col(EvalResult.model)))).all())


async def close_run(session: AsyncSession, run_id: int, status: EvalRunStatus, note: str) -> EvalRun:
    """The run's status, note, totals and cost, from its results as stored."""
    row = await session.get(EvalRun, run_id)
    if row is None:
        raise RunNotFound(run_id)
    results = await results_of(session, run_id)
    row.totals = totals(results, row.models)
    row.cost_usd = sum((r.cost_usd or 0.0) + (r.judge_cost_usd or 0.0) for r in results)
    row.status, row.note, row.updated_at = status.value, note, utcnow()
    row.finished_at = utcnow()
    session.add(row)
    return row


async def list_runs(session: AsyncSession, *, limit: int = 50, offset: int = 0) -> tuple[list[EvalRun], int]:
    total = (await session.exec(select(func.count()).select_from(EvalRun))).one()
    query = select(EvalRun).order_by(col(EvalRun.id).desc()).limit(limit).offset(offset)
    return list((await session.exec(query)).all()), int(total)


async def get_run(session: AsyncSession, run_id: int) -> tuple[EvalRun, list[EvalResult]]:
    row = await session.get(EvalRun, run_id)
    if row is None:
        raise RunNotFound(run_id)
    return row, await results_of(session, run_id)


@dataclass
class Comparison:
    """Models side by side: one column per (run, model), one row per case with each column's verdict."""

    columns: list[dict[str, Any]]  # run_id, model, and that model's totals in that run
    rows: list[dict[str, Any]]  # case_id, case_title, cells: {column key: status, score, cost, latency}


def column_key(run_id: int, model: str) -> str:
    return f"{run_id}:{model}"


async def compare(session: AsyncSession, run_ids: list[int]) -> Comparison:
    """The runs' models side by side per case (a run's own models, or several runs: MAX_COMPARED)."""
    columns: list[dict[str, Any]] = []
    cases: dict[str, dict[str, Any]] = {}
    for run_id in list(dict.fromkeys(run_ids))[:MAX_COMPARED]:
        run, results = await get_run(session, run_id)
        for model in run.models:
            columns.append(
                {
                    "key": column_key(run_id, model),
                    "run_id": run_id,
                    "model": model,
                    "totals": run.totals.get(model, {}),
                }
            )
        for result in results:
            entry = cases.setdefault(
                result.case_id,
                {
                    "case_id": result.case_id,
                    "case_title": result.case_title,
                    "difficulty": result.difficulty,
                    "cells": {},
                },
            )
            entry["cells"][column_key(run_id, result.model)] = {
                "status": result.status,
                "score": round(result.score, 4),
                "cost_usd": result.cost_usd,
                "latency_s": round(result.latency_ms / 1000, 3),
                "missed": [c["name"] for c in result.checks if not c.get("ok")],
            }
    return Comparison(columns=columns, rows=[cases[k] for k in sorted(cases)])
