"""GET /api/evals/runs, /api/evals/runs/{id}, /api/evals/runs/{id}/report and /api/evals/compare
(admins): the evaluation runs stored by `python -m remediation_app eval run` (docs/evals.md)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from remediation_app.api.deps import MAX_ID, AdminUser, RowId, SessionDep
from remediation_app.api.schemas import Page
from remediation_app.services.evals import store
from remediation_app.services.evals.report import result_public, run_public
from remediation_app.services.evals.report_html import report_html

router = APIRouter(prefix="/api/evals", tags=["evals"])


class EvalRunPublic(BaseModel):
    id: int
    status: str
    note: str
    cases_path: str
    cases: int
    models: list[str]
    judge_model: str
    api_base: str
    tool_calling: str
    concurrency: int
    budget_usd: float | None
    cost_usd: float
    totals: dict[str, dict[str, Any]]
    created_by: str
    created_at: str | None
    finished_at: str | None


class EvalResultPublic(BaseModel):
    model: str
    case_id: str
    case_title: str
    difficulty: str
    tags: list[str]
    status: str
    score: float
    checks: list[dict[str, Any]]
    judge: dict[str, Any]
    root_cause: str
    error: str
    cost_usd: float | None
    judge_cost_usd: float | None
    prompt_tokens: int | None
    completion_tokens: int | None
    latency_s: float
    tool_calls: int
    details: dict[str, Any]


class EvalRunDetail(EvalRunPublic):
    results: list[EvalResultPublic]


class ComparisonColumn(BaseModel):
    key: str
    run_id: int
    model: str
    totals: dict[str, Any]


class ComparisonRow(BaseModel):
    case_id: str
    case_title: str
    difficulty: str
    cells: dict[str, dict[str, Any]]


class ComparisonPublic(BaseModel):
    columns: list[ComparisonColumn]
    rows: list[ComparisonRow]


@router.get("/runs", response_model=Page[EvalRunPublic], summary="Evaluation runs, newest first (admins only)")
async def api_eval_runs(
    _admin: AdminUser,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Page[EvalRunPublic]:
    rows, total = await store.list_runs(session, limit=limit, offset=offset)
    return Page(items=[EvalRunPublic.model_validate(run_public(r)) for r in rows], total=total)


async def _run(session: SessionDep, run_id: int) -> tuple[Any, list[Any]]:
    try:
        return await store.get_run(session, run_id)
    except store.RunNotFound:
        raise HTTPException(status_code=404, detail="no such evaluation run") from None


@router.get("/runs/{run_id}", response_model=EvalRunDetail, summary="One run with every result (admins only)")
async def api_eval_run(_admin: AdminUser, session: SessionDep, run_id: RowId) -> EvalRunDetail:
    run, results = await _run(session, run_id)
    return EvalRunDetail.model_validate({**run_public(run), "results": [result_public(r) for r in results]})


@router.get(
    "/runs/{run_id}/report",
    response_class=HTMLResponse,
    summary="One run's report as a page with charts (admins only)",
)
async def api_eval_report(_admin: AdminUser, session: SessionDep, run_id: RowId) -> HTMLResponse:
    run, results = await _run(session, run_id)
    # In proportion to cases x models: built in a thread, the event loop keeps serving meanwhile.
    return HTMLResponse(await asyncio.to_thread(report_html, run, results))


@router.get("/compare", response_model=ComparisonPublic, summary="Models side by side per case (admins only)")
async def api_eval_compare(
    _admin: AdminUser,
    session: SessionDep,
    run: Annotated[list[int], Query(min_length=1, max_length=store.MAX_COMPARED, description="run ids")],
) -> ComparisonPublic:
    if any(not 1 <= run_id <= MAX_ID for run_id in run):
        raise HTTPException(status_code=422, detail="run: ids from 1")
    try:
        comparison = await store.compare(session, run)
    except store.RunNotFound as exc:
        raise HTTPException(status_code=404, detail=f"no evaluation run #{exc.args[0]}") from None
    return ComparisonPublic.model_validate({"columns": comparison.columns, "rows": comparison.rows})
