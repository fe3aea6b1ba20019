"""LLM providers, the analysis job queue, finished analyses and the chat about an alert."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Column, Field, SQLModel

from remediation_app.crypto import register_encrypted_column
from remediation_app.models.base import SHORT, json_field, ts_field


class JobStatus(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    # Automatic jobs whose alert resolved, or that waited too long, before a worker reached them.
    CANCELLED = "cancelled"


IN_FLIGHT = (JobStatus.PENDING.value, JobStatus.RUNNING.value)


class LLMProvider(SQLModel, table=True):
    """An LLM an admin configured (LiteLLM model string); the API key is encrypted at rest."""

    __tablename__ = "llm_providers"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, sa_column_kwargs={"unique": True})
    model: str = Field(max_length=255)
    api_base: str = Field(default="", max_length=1024)
    # Fernet token or "" (no key: e.g. a local Ollama); never sent to the browser.
    api_key_ciphertext: str = Field(default="", sa_column=Column(sa.Text(), nullable=False, server_default=""))
    is_default: bool = False
    enabled: bool = True
    temperature: float = 0.2
    max_tokens: int = 1500
    timeout_s: float = 60.0
    # auto (ask LiteLLM whether the model supports function calling), on or off
    tool_calling: str = Field(default="auto", max_length=8, sa_column_kwargs={"server_default": "auto"})
    # A self-hosted endpoint (Ollama, vLLM): prompts sent to it may skip redaction.
    local: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    created_at: datetime = ts_field()
    updated_at: datetime = ts_field()
    updated_by: str = Field(default="", max_length=150)


register_encrypted_column(
    LLMProvider.__table__,  # type: ignore[attr-defined]
    pk="id",
    column="api_key_ciphertext",
    label="LLM provider API key",
)


class AnalysisJob(SQLModel, table=True):
    """One requested analysis: the durable queue the workers claim from."""

    __tablename__ = "analysis_jobs"
    __table_args__ = (
        # At most one job in flight per alert (also what makes enqueueing idempotent).
        sa.Index(
            "uq_analysis_jobs_alert_in_flight",
            "alert_id",
            unique=True,
            sqlite_where=sa.text("status IN ('pending', 'running')"),
            postgresql_where=sa.text("status IN ('pending', 'running')"),
        ),
        sa.Index("ix_analysis_jobs_status_next", "status", "next_attempt_at"),
        sa.Index("ix_analysis_jobs_fingerprint_finished", "fingerprint", "finished_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(
        sa_column=Column(sa.Integer(), sa.ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    fingerprint: str = Field(max_length=128)
    status: str = Field(default=JobStatus.PENDING.value, max_length=16)
    # Storm control: a job for a whole incident (its alerts as data), run for one of its alerts.
    incident_id: int | None = Field(default=None, index=True)
    # None: the default provider when the job runs; 0: the provider from the environment (LLM_MODEL).
    provider_id: int | None = None
    # True when a rule asked (paused by the daily budget); False when a user asked.
    automatic: bool = True
    requested_by: str = Field(default="", max_length=SHORT)
    requested_by_user_id: int | None = None
    attempts: int = 0
    max_attempts: int = 4
    next_attempt_at: datetime = ts_field()
    lease_expires_at: datetime | None = ts_field(nullable=True)
    locked_by: str = Field(default="", max_length=SHORT)
    last_error: str = Field(default="", sa_column=Column(sa.Text(), nullable=False, server_default=""))
    created_at: datetime = ts_field()
    updated_at: datetime = ts_field()
    finished_at: datetime | None = ts_field(nullable=True)


class Analysis(SQLModel, table=True):
    """A finished analysis: the structured fields (or the raw text when nothing parsed), tokens, cost."""

    __tablename__ = "analyses"
    __table_args__ = (sa.Index("ix_analyses_alert_created", "alert_id", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(
        sa_column=Column(sa.Integer(), sa.ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False)
    )
    job_id: int | None = None
    # Set when the analysis covers a whole incident (storm control): its alerts share it.
    incident_id: int | None = Field(default=None, index=True)
    provider_name: str = Field(default="", max_length=100)
    model: str = Field(default="", max_length=255)
    structured: bool = False
    # root_cause, impact, immediate_actions, remediation_steps, prevention, confidence, needs_human
    result: dict[str, Any] = json_field()
    urgency: str = Field(default="", max_length=16)
    raw_text: str = Field(default="", sa_column=Column(sa.Text(), nullable=False, server_default=""))
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: float | None = None
    latency_ms: int = 0
    requested_by: str = Field(default="", max_length=SHORT)
    requested_by_user_id: int | None = None
    # How the evidence was gathered: datasource consulted (or why not), tool steps, redaction counts.
    investigation: dict[str, Any] = json_field()
    created_at: datetime = ts_field(index=True)


class Conversation(SQLModel, table=True):
    """A chat about one alert, one user's (nobody else reads it)."""

    __tablename__ = "conversations"
    __table_args__ = (sa.Index("ix_conversations_alert_user", "alert_id", "user_id", "updated_at"),)

    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(
        sa_column=Column(sa.Integer(), sa.ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False)
    )
    user_id: int = Field(sa_column=Column(sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False))
    username: str = Field(default="", max_length=150)
    title: str = Field(default="", max_length=SHORT)
    created_at: datetime = ts_field()
    updated_at: datetime = ts_field()


class ChatMessage(SQLModel, table=True):
    """One turn: the user's question (with terminal lines, if attached) or the model's answer."""

    __tablename__ = "chat_messages"

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(
        sa_column=Column(
            sa.Integer(), sa.ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    role: str = Field(max_length=16)
    content: str = Field(default="", sa_column=Column(sa.Text(), nullable=False, server_default=""))
    # Terminal output the user attached to a question (untrusted; sent quoted).
    terminal_context: str = Field(default="", sa_column=Column(sa.Text(), nullable=False, server_default=""))
    # complete, streaming, stopped (by the user) or error (the partial text kept).
    status: str = Field(default="complete", max_length=16)
    error: str = Field(default="", sa_column=Column(sa.Text(), nullable=False, server_default=""))
    provider_name: str = Field(default="", max_length=100)
    model: str = Field(default="", max_length=255)
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: float | None = None
    latency_ms: int = 0
    created_at: datetime = ts_field(index=True)
    finished_at: datetime | None = ts_field(nullable=True)
