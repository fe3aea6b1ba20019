"""What the API answers: Alerts, analyses, evidence and incidents."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    AliasPath,
    BaseModel,
    BeforeValidator,
    Field,
)

from remediation_app.api.schemas.base import (
    Public,
    Timestamp,
)

# ---- alerts and analyses --------------------------------------------------------------------------


class AlertPublic(Public):
    id: int
    fingerprint: str
    status: str
    alertname: str
    severity: str
    instance: str
    job: str
    summary: str
    action: str
    starts_at: Timestamp
    ends_at: Timestamp | None
    first_received_at: Timestamp
    last_received_at: Timestamp
    times_notified: int
    incident_id: int | None = Field(default=None, description="the incident (Alertmanager group) it belongs to")


class AnalysisState(Public):
    status: str = Field(description="the latest analysis job's state: none, queued, running, failed, cancelled, done")
    urgency: str | None = Field(description="the latest analysis' urgency, LOW to CRITICAL; null if none")


class AlertSummary(AlertPublic):
    analysis: AnalysisState


class MatchedRule(BaseModel):
    id: int | None
    name: str
    reason: str


class TimelineEntry(BaseModel):
    notification_id: int
    received_at: Timestamp
    status: str
    receiver: str
    group_key: str


class Action(BaseModel):
    description: str
    command: str = ""
    risk: str = ""


class Hypothesis(BaseModel):
    explanation: str
    confidence: float | None = None
    supports: list[str] = Field(default_factory=list, description="ids of the evidence for it")
    contradicts: list[str] = Field(default_factory=list, description="ids of the evidence against it")


class EvidencePublic(BaseModel):
    id: str = Field(description="E1, E2, ...: what the analysis cites")
    kind: str = Field(description="metric, metric_value, related_alerts, history, or tool_* (asked by the model)")
    title: str
    datasource: str
    query: str
    window_start: str | None
    window_end: str | None
    summary: str = Field(description="the text the model was given")
    data: dict[str, Any] = Field(description="compact data for a chart (series of [unix seconds, value]) or a list")
    link: str = Field(description="the same query on the datasource's own graph page")
    duration_ms: int
    error: str = Field(description="what failed, when the query did")


class Investigation(BaseModel):
    datasource: str | None = None
    consulted: str = ""
    tools: bool = False
    steps: int | None = None
    stopped: str | None = None
    redactions: dict[str, int] = Field(default_factory=dict, description="secrets replaced before the model saw them")


def _result(key: str) -> Any:
    """A field of the model's structured answer (null when the answer was not structured)."""
    return Field(default=None, validation_alias=AliasPath("result", key))


class AnalysisPublic(Public):
    id: int
    alert_id: int
    job_id: int | None
    incident_id: int | None = Field(
        default=None,
        description="set when it analyses the whole incident (storm control): every alert of it shows it",
    )
    provider: str = Field(validation_alias=AliasChoices("provider", "provider_name"))
    model: str
    structured: bool
    urgency: Annotated[str | None, BeforeValidator(lambda value: value or None)]
    root_cause: str | None = _result("root_cause")
    impact: str | None = _result("impact")
    immediate_actions: list[Action] | None = _result("immediate_actions")
    remediation_steps: list[str] | None = _result("remediation_steps")
    prevention: list[str] | None = _result("prevention")
    confidence: float | None = _result("confidence")
    needs_human: bool | None = _result("needs_human")
    root_cause_evidence: list[str] | None = _result("root_cause_evidence")
    hypotheses: list[Hypothesis] | None = _result("hypotheses")
    inconclusive: bool | None = _result("inconclusive")
    investigation: Investigation | None = None
    evidence: list[EvidencePublic] = Field(default_factory=list, description="what the analysis gathered")
    raw_text: str
    prompt_tokens: int | None
    completion_tokens: int | None
    cost_usd: float | None
    latency_ms: int
    requested_by: str
    created_at: Timestamp


class JobPublic(Public):
    id: int
    alert_id: int
    incident_id: int | None = Field(default=None, description="set for a group analysis of the incident")
    status: str
    automatic: bool
    provider_id: int | None
    requested_by: str
    attempts: int
    max_attempts: int
    next_attempt_at: Timestamp | None
    last_error: str
    created_at: Timestamp | None
    finished_at: Timestamp | None


class AlertDetail(AlertPublic):
    labels: dict[str, str]
    annotations: dict[str, str]
    generator_url: str
    group_key: str
    receiver: str
    matched_rule: MatchedRule
    timeline: list[TimelineEntry] = Field(description="the notifications that carried it, newest first")
    analysis: AnalysisPublic | None = Field(description="the latest analysis")
    analysis_job: JobPublic | None = Field(description="the latest analysis job")
    llm_configured: bool = Field(description="whether any LLM provider is configured")
    external_url: str = Field(default="", description="the notification's externalURL: the Alertmanager it came from")
    am_state: str = Field(
        default="",
        description="Alertmanager's state from the sync loop: active, suppressed (silenced or inhibited), "
        'unprocessed, or "" (not seen there, or no Alertmanager configured)',
    )
    am_silenced_by: list[str] = Field(default_factory=list, description="ids of the silences that mute it")
    am_inhibited_by: list[str] = Field(default_factory=list, description="fingerprints of the alerts inhibiting it")
    am_synced_at: Timestamp | None = Field(default=None, description="when the sync loop last changed that state")
    acked_by: str = Field(default="", description="who acknowledged it (the latest ack), or empty")
    acked_at: Timestamp | None = Field(default=None, description="when it was acknowledged")


# ---- incidents ------------------------------------------------------------------------------------


class IncidentSummary(Public):
    id: int
    title: str
    status: Literal["open", "resolved"]
    severity: str = Field(description="the highest severity of its firing alerts (of all, once resolved)")
    alert_count: int
    firing_count: int
    storm: bool = Field(description="storm control: analysed once as a group, not once per alert")
    receiver: str
    group_labels: dict[str, str]
    opened_at: Timestamp
    last_notified_at: Timestamp
    resolved_at: Timestamp | None
    analysis: AnalysisState = Field(description="the latest analysis job of its alerts or of the group")


class IncidentTimelineItem(BaseModel):
    at: Timestamp
    kind: str = Field(description="opened, notification, analysis, chat, terminal, silence, ack or resolved")
    text: str
    who: str
    link: str = Field(description='a page of the app ("/alerts/12"), or ""')


class IncidentDetail(IncidentSummary):
    alerts: list[AlertSummary] = Field(description="firing first, then most severe, then earliest")
    alerts_not_shown: int = Field(description="alerts beyond those listed")
    timeline: list[IncidentTimelineItem] = Field(description="oldest first, at most the latest 300 items")
    timeline_truncated: bool = Field(description="earlier timeline items were left out")
    group_analysis: AnalysisPublic | None = Field(description="the latest analysis of the whole incident (storm)")
    group_job: JobPublic | None = Field(description="the latest group analysis job")
