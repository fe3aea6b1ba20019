"""What the API answers: Incident memory: outcomes, verified fixes, similar incidents, reliability."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    Field,
)

from remediation_app.api.schemas.base import (
    Timestamp,
)

# ---- incident memory: outcomes, verified fixes, similar incidents, reliability --------------------


class FixCheckPublic(BaseModel):
    """The engine's verdict on the recorded fix, judged against the alert's later notifications."""

    status: Literal["pending", "verified", "failed", "unverified"]
    detail: str = Field(description="what was found (pending: what it waits for)")
    fix_at: Timestamp | None = Field(description="the fix's time: its last command with a known time, or the recording")
    fix_from: Literal["terminal", "diagnostic", "recorded"]
    checked_at: Timestamp | None
    evidence: dict[str, Any] = Field(
        description="resolved_at, window_end, hold_end, refired_at and refire_alert_id, expression (query, at, series)"
    )


class OutcomePublic(BaseModel):
    """What a person recorded once the alert was handled (text as written: untrusted, shown as text)."""

    id: int
    alert_id: int
    incident_id: int | None
    analysis_id: int | None = Field(description="the analysis judged (the alert's latest when recorded)")
    alertname: str
    verdict: Literal["right", "partly", "wrong"] = Field(description="was the analysis right")
    root_cause: str
    fix: str
    commands: list[str]
    tags: list[str]
    rule_name: str
    provider_name: str
    model: str
    created_by: str
    created_at: Timestamp
    updated_by: str
    updated_at: Timestamp
    edits: int
    fix_check: FixCheckPublic


class OutcomeCommandSource(BaseModel):
    command: str
    at: Timestamp
    source: Literal["terminal", "diagnostic"]
    where: str = Field(description='"terminal session 12 on web-1 (alice)", "diagnostic #4 on web-1, approved by bob"')


class OutcomePrefill(BaseModel):
    """What the outcome form is prefilled with: what happened to the alert (secrets replaced)."""

    commands: list[str] = Field(description="typed in terminals opened from the alert, and approved diagnostics")
    fix: str = Field(description="the silences and acks made for the alert, one a line")
    sources: list[OutcomeCommandSource]
    unreadable: list[str] = Field(description="recordings that could not be read, and why")


class SimilarIncidentPublic(BaseModel):
    alert_id: int
    alertname: str
    summary: str
    same_alertname: bool
    shared_labels: list[str] = Field(description='"name=value" pairs it shares with the alert')
    text_score: float = Field(description="full-text similarity of its text, 1 for the best match, 0 for none")
    outcome: OutcomePublic


class SimilarIncidents(BaseModel):
    """Past incidents like the alert, best first: same alertname, then verified fixes, then shared labels,
    then text similarity."""

    seen: int = Field(description="earlier occurrences of the same alert (same fingerprint)")
    similar: int
    last_fix: str = Field(description="the newest verified fix among them (else the newest fix), in one line")
    last_fix_status: str
    last_fix_alert_id: int | None
    items: list[SimilarIncidentPublic]


class ReliabilityCounts(BaseModel):
    outcomes: int
    right: int
    partly: int
    wrong: int
    verified: int
    failed: int
    unverified: int
    pending: int
    right_rate: float | None = Field(description="analyses judged right, of all outcomes (null: none)")
    held_rate: float | None = Field(description="fixes verified, of those verified or failed (null: none judged)")


class ReliabilityRow(ReliabilityCounts):
    key: str


class ReliabilityPublic(BaseModel):
    total: ReliabilityCounts
    by_rule: list[ReliabilityRow]
    by_alertname: list[ReliabilityRow]
    by_provider: list[ReliabilityRow]
