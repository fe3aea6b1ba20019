"""What the API answers: Approval-gated diagnostics: proposals and the policy."""

from __future__ import annotations

from typing import Literal

from pydantic import (
    BaseModel,
    Field,
)

from remediation_app.api.schemas.base import (
    Timestamp,
)

# ---- approval-gated diagnostics -------------------------------------------------------------------

ProposalStatusName = Literal["pending", "approved", "rejected", "refused", "expired", "running", "done", "failed"]


class ProposalPublic(BaseModel):
    """A command a model proposed for a server, the policy's verdict, the decision and, once run, the output."""

    id: int
    alert_id: int
    origin: Literal["analysis", "chat"]
    server: str = Field(description="the registered server's name (as proposed, for an unknown one)")
    command: str = Field(description="exactly what runs (for a refused proposal: the model's text)")
    proposed: str = Field(description='the model\'s own text when it was written otherwise ("" when the same)')
    reason: str = Field(description="the model's reason")
    status: ProposalStatusName
    verdict: str = Field(description="the policy's verdict: the group that allows it, or why it is refused")
    policy_group: str
    policy_version: int = Field(description="0: the shipped default policy")
    created_at: Timestamp
    expires_at: Timestamp
    decided_by: str
    decided_at: Timestamp | None
    note: str = Field(description="the note given with the approval or rejection")
    started_at: Timestamp | None
    finished_at: Timestamp | None
    exit_status: int | None
    timed_out: bool
    truncated: bool = Field(description="the output reached DIAGNOSTIC_OUTPUT_MAX_BYTES and the command was stopped")
    output: str | None = Field(description="stdout (redacted) once it ran (done or failed), else null")
    stderr: str | None = Field(description="stderr (redacted) once it ran, else null")
    output_bytes: int = Field(description="bytes received, stdout and stderr together")
    output_sha256: str = Field(description="SHA-256 of the bytes received (stdout then stderr), before redaction")
    error: str = Field(description="why it failed (could not connect, host key changed, time limit, interrupted)")


class PolicyPublic(BaseModel):
    """The diagnostics policy in force (YAML, docs/diagnostics.md)."""

    version: int = Field(description="0: the shipped default (no admin saved one)")
    default: bool
    document: str
    updated_by: str
    updated_at: Timestamp | None
    broken: str = Field(description='why the stored document cannot be read (every command is refused), or ""')


class PolicySaved(PolicyPublic):
    widened: list[str] = Field(description="what the new policy allows that the previous one did not (audited)")


class PolicyVerdict(BaseModel):
    allowed: bool
    reason: str
    group: str = Field(description="the group of the policy that covers the server")
    command: str = Field(description="what would run, when allowed")
    argv: list[list[str]] = Field(description="the words of each command of the pipeline, when allowed")
