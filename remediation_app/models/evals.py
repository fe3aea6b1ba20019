"""Evaluation runs (services/evals/): every case against every model, and one result per (run, model,
case), so a run can be resumed (finished results are kept, the rest run) and models compared."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Column, Field, SQLModel

from remediation_app.models.base import SHORT, json_field, ts_field


class EvalRunStatus(enum.StrEnum):
    RUNNING = "running"
    FINISHED = "finished"
    BUDGET = "budget"  # stopped by its cost cap: resumable
    INTERRUPTED = "interrupted"  # stopped by a person or a fault: resumable


class EvalResultStatus(enum.StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"  # no answer (the provider failed): run again when the run is resumed


class EvalRun(SQLModel, table=True):
    __tablename__ = "eval_runs"

    id: int | None = Field(default=None, primary_key=True)
    status: str = Field(default=EvalRunStatus.RUNNING.value, max_length=16, index=True)
    note: str = Field(default="", sa_column=Column(sa.Text(), nullable=False, server_default=""))
    cases_path: str = Field(default="", sa_column=Column(sa.Text(), nullable=False, server_default=""))
    case_ids: list[str] = Field(default_factory=list, sa_column=Column(sa.JSON(), nullable=False))
    models: list[str] = Field(default_factory=list, sa_column=Column(sa.JSON(), nullable=False))
    judge_model: str = Field(default="", max_length=SHORT)
    # Where the models were reached, without credentials (display_url).
    api_base: str = Field(default="", sa_column=Column(sa.Text(), nullable=False, server_default=""))
    tool_calling: str = Field(default="auto", max_length=8)
    concurrency: int = 1
    budget_usd: float | None = None
    cost_usd: float = 0.0  # the models' and the judge's, summed over the results
    totals: dict[str, Any] = json_field()  # per model: services/evals/report.py `totals`
    created_by: str = Field(default="", max_length=150)
    created_at: datetime = ts_field(index=True)
    updated_at: datetime = ts_field()
    finished_at: datetime | None = ts_field(nullable=True)


class EvalResult(SQLModel, table=True):
    __tablename__ = "eval_results"
    __table_args__ = (sa.UniqueConstraint("run_id", "model", "case_id", name="uq_eval_results_run_model_case"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(
        sa_column=Column(sa.Integer(), sa.ForeignKey("eval_runs.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    model: str = Field(max_length=SHORT)
    case_id: str = Field(max_length=100)
    case_title: str = Field(default="", max_length=200)
    difficulty: str = Field(default="", max_length=16)
    tags: list[str] = Field(default_factory=list, sa_column=Column(sa.JSON(), nullable=False))
    status: str = Field(max_length=16)
    score: float = 0.0
    # Each check: kind, name, ok, rule (what matched), judge (its verdict), reason (the judge's).
    checks: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(sa.JSON(), nullable=False))
    judge: dict[str, Any] = json_field()  # model, summary, error, cost_usd, tokens
    root_cause: str = Field(default="", sa_column=Column(sa.Text(), nullable=False, server_default=""))
    answer: dict[str, Any] = json_field()  # the parsed analysis ({} when it was not structured)
    error: str = Field(default="", sa_column=Column(sa.Text(), nullable=False, server_default=""))
    cost_usd: float | None = None
    judge_cost_usd: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_ms: int = 0
    tool_calls: int = 0
    # The calls (name, arguments, ok, evidence id, error), the queries asked, how the loop ended.
    details: dict[str, Any] = json_field()
    created_at: datetime = ts_field()
