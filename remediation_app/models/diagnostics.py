"""Approval-gated diagnostics: the commands a model proposed for a server (each checked by the policy,
run once over SSH after a person approved it) and the policy itself (one YAML document, versioned)."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Column, Field, SQLModel

from remediation_app.models.base import SHORT, ts_field


class ProposalStatus(enum.StrEnum):
    PENDING = "pending"  # offered for approval
    APPROVED = "approved"  # a person approved it; a runner has not taken it yet
    REJECTED = "rejected"
    REFUSED = "refused"  # by the policy (or an unknown server): never offered
    EXPIRED = "expired"  # nobody decided in time
    RUNNING = "running"
    DONE = "done"  # ran; see exit_status
    FAILED = "failed"  # could not run, or did not finish (time limit, connection, interrupted)


# Still waiting for something: a person, or a runner.
OPEN_PROPOSALS = (ProposalStatus.PENDING.value, ProposalStatus.APPROVED.value, ProposalStatus.RUNNING.value)


class DiagnosticProposal(SQLModel, table=True):
    """One command a model proposed (in an analysis or in a chat), with the policy's verdict, the
    person's decision and, once run, what came back (redacted, capped)."""

    __tablename__ = "diagnostic_proposals"
    __table_args__ = (
        sa.Index("ix_diagnostic_proposals_alert_created", "alert_id", "created_at"),
        sa.Index("ix_diagnostic_proposals_status_expires", "status", "expires_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(
        sa_column=Column(sa.Integer(), sa.ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False)
    )
    # analysis (job_id: the analysis job that proposed it) or chat (conversation_id)
    origin: str = Field(default="analysis", max_length=16)
    job_id: int | None = Field(default=None, index=True)
    conversation_id: int | None = Field(
        default=None,
        sa_column=Column(
            sa.Integer(), sa.ForeignKey("conversations.id", ondelete="SET NULL"), nullable=True, index=True
        ),
    )
    tool_call_id: str = Field(default="", max_length=100)
    # The server as registered when proposed (its row may be renamed or deleted later).
    server_id: int | None = Field(
        default=None,
        sa_column=Column(sa.Integer(), sa.ForeignKey("ssh_servers.id", ondelete="SET NULL"), nullable=True),
    )
    server_name: str = Field(default="", max_length=100)
    # What runs, exactly (the checked argv quoted again); for a refused one, the model's text.
    command: str = Field(default="", sa_column=Column(sa.Text(), nullable=False, server_default=""))
    # The model's own text, when it differs from `command` (quoting written another way).
    proposed: str = Field(default="", sa_column=Column(sa.Text(), nullable=False, server_default=""))
    reason: str = Field(default="", sa_column=Column(sa.Text(), nullable=False, server_default=""))
    status: str = Field(default=ProposalStatus.PENDING.value, max_length=16)
    # The policy's verdict: the group and rule that allow it, or why it was refused.
    verdict: str = Field(default="", sa_column=Column(sa.Text(), nullable=False, server_default=""))
    policy_group: str = Field(default="", max_length=100)
    policy_version: int = 0
    created_at: datetime = ts_field()
    expires_at: datetime = ts_field()
    decided_by: str = Field(default="", max_length=150)
    decided_by_user_id: int | None = None
    decided_at: datetime | None = ts_field(nullable=True)
    note: str = Field(default="", sa_column=Column(sa.Text(), nullable=False, server_default=""))
    # The run: which process took it (and until when it may), when, and what came back.
    runner: str = Field(default="", max_length=SHORT)
    lease_expires_at: datetime | None = ts_field(nullable=True)
    started_at: datetime | None = ts_field(nullable=True)
    finished_at: datetime | None = ts_field(nullable=True)
    exit_status: int | None = None
    timed_out: bool = False
    truncated: bool = False
    stdout: str = Field(default="", sa_column=Column(sa.Text(), nullable=False, server_default=""))
    stderr: str = Field(default="", sa_column=Column(sa.Text(), nullable=False, server_default=""))
    # Bytes received (stdout and stderr, at most the cap) and their SHA-256, before redaction.
    output_bytes: int = 0
    output_sha256: str = Field(default="", max_length=64)
    error: str = Field(default="", sa_column=Column(sa.Text(), nullable=False, server_default=""))
    # The model's follow-up once a person acted: "" (none due), wanted, queued, skipped.
    continuation: str = Field(default="", max_length=16)


class DiagnosticPolicy(SQLModel, table=True):
    """The policy in force: one row (id 1) holding the YAML document an admin saved, and its version
    (no row: the shipped read-only default, version 0)."""

    __tablename__ = "diagnostic_policies"

    id: int | None = Field(default=None, primary_key=True)
    version: int = 1
    document: str = Field(default="", sa_column=Column(sa.Text(), nullable=False, server_default=""))
    updated_by: str = Field(default="", max_length=150)
    updated_at: datetime = ts_field()
