"""What the API answers: one pydantic model per shape, the `response_model` of its routes (so
/openapi.json documents the real fields).

A model is validated from what a service returns: a row or a dataclass (`from_attributes`), or a
service's result dict. Only the declared fields pass, and none of them holds a secret: a stored API
key, SSH key, passphrase or password shows only as a `has_*` flag, read from its ciphertext column
and kept as a bool; a user's password hash and token version have no field at all. (The bearer
token and the terminal ticket are the caller's own credentials, issued to it in the answer.)
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import (
    AliasChoices,
    AliasPath,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
)

T = TypeVar("T")

# Timestamps as datetime.isoformat() writes them ("+00:00", not pydantic's "Z"): what the API
# has always answered.
Timestamp = Annotated[
    datetime,
    PlainSerializer(lambda value: value.isoformat(), return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
Rounded = Annotated[float, BeforeValidator(lambda value: round(value, 10))]


# Whether a secret is stored: read from its ciphertext column (or a service's `has_*` key) and
# turned into a bool before the model keeps it.
StoredFlag = Annotated[bool, BeforeValidator(bool)]


def stored(column: str) -> Any:
    return Field(validation_alias=AliasChoices("has_" + column.removesuffix("_ciphertext"), column))


class Public(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int = Field(description="how many match, on every page")


class Items(BaseModel, Generic[T]):
    items: list[T]


class ErrorPublic(BaseModel):
    """A refusal; some add `field` (the input at fault) or `fields` (a payload's validation errors)."""

    error: str


class StatusPublic(BaseModel):
    status: str


# ---- health ---------------------------------------------------------------------------------------


class Ready(BaseModel):
    status: Literal["ok"]
    revision: str | None


class NotReady(BaseModel):
    status: Literal["unavailable"]
    database: str = Field(description='"not migrated", or "unreachable: <error type>"')
    revision: str | None = Field(default=None, description="when not migrated: the database's revision")
    head: str | None = Field(default=None, description="when not migrated: the code's")


# ---- audit ----------------------------------------------------------------------------------------


class AuditEventPublic(Public):
    id: int
    at: Timestamp
    actor: str
    action: str
    target: str
    address: str
    success: bool
    details: dict[str, Any]


# ---- webhook and auth -----------------------------------------------------------------------------


class WebhookResult(BaseModel):
    status: Literal["ok"] = "ok"
    notification_id: int | None = Field(default=None, description="absent when the payload had no alerts")
    received: int
    created: int
    updated: int
    by_action: dict[str, int] | None = Field(default=None, description="absent when the payload had no alerts")


class TokenPublic(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 (OAuth2's token type, not a secret)
    expires_at: Timestamp


class UserPublic(Public):
    username: str
    role: str


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


# ---- LLM providers and spend ----------------------------------------------------------------------


class ProviderPublic(Public):
    id: int = Field(description="0: the provider set by the environment (LLM_MODEL)")
    name: str
    model: str
    api_base: str
    has_api_key: StoredFlag = stored("api_key_ciphertext")
    is_default: bool
    enabled: bool
    temperature: float
    max_tokens: int
    timeout_s: float
    tool_calling: Literal["auto", "on", "off"] = Field(
        description="whether analyses offer the model tools: auto (what LiteLLM knows of the model), on, off"
    )
    local: bool = Field(description="self-hosted: prompts sent to it skip the redaction of secrets")
    source: Literal["database", "environment"] = "database"


class ProviderList(BaseModel):
    items: list[ProviderPublic]
    default_id: int | None


class ProviderTestPassed(BaseModel):
    ok: Literal[True]
    model: str
    latency_ms: int
    reply: str
    prompt_tokens: int | None
    completion_tokens: int | None


class ProviderTestFailed(BaseModel):
    ok: Literal[False]
    error: str = Field(description="the provider's error, its key masked")
    status: int | None = Field(default=None, description="the provider's HTTP status, when it answered one")


class SpendPublic(Public):
    today_usd: Rounded
    month_usd: Rounded
    today_tokens: int
    month_tokens: int
    analyses_today: int
    daily_budget_usd: float | None = Field(validation_alias=AliasChoices("daily_budget_usd", "budget_usd"))
    budget_reached: bool


# ---- datasources ----------------------------------------------------------------------------------


class DatasourcePublic(Public):
    id: int = Field(description="0: the datasource set by the environment (PROMETHEUS_URL)")
    name: str
    url: str = Field(description="without credentials, query string or fragment")
    auth: Literal["none", "bearer", "basic"]
    username: str = Field(description="basic authentication's user name")
    has_secret: StoredFlag = stored("secret_ciphertext")  # the bearer token or basic-auth password
    timeout_s: float
    is_default: bool
    enabled: bool
    source: Literal["database", "environment"] = "database"


class DatasourceTestPassed(BaseModel):
    ok: Literal[True]
    version: str = Field(description='the datasource\'s version from its build information, or "unknown"')


class DatasourceTestFailed(BaseModel):
    ok: Literal[False]
    error: str = Field(description="what failed, naming the datasource (never its credential)")


# ---- SSH servers and terminals --------------------------------------------------------------------


class ServerPublic(Public):
    id: int
    name: str
    host: str
    port: int
    username: str
    auth_method: str
    has_private_key: StoredFlag = stored("private_key_ciphertext")
    has_passphrase: StoredFlag = stored("passphrase_ciphertext")
    has_password: StoredFlag = stored("password_ciphertext")
    environment: str
    allowed_roles: list[str]
    host_key_fingerprint: str
    host_key_accepted_by: str
    host_key_accepted_at: Timestamp | None


class HostKey(BaseModel):
    fingerprint: str
    algorithm: str
    accepted: bool = Field(description="whether it is the pinned key")
    accepted_fingerprint: str | None = Field(description="the pinned key's fingerprint, if any")


class Ticket(BaseModel):
    ticket: str = Field(description="for the first message on /ws/terminal; used once")
    expires_in: int = Field(description="seconds")


class SessionPublic(Public):
    id: int
    username: str
    server_id: int | None
    server: str = Field(validation_alias=AliasChoices("server", "server_name"))
    alert_id: int | None
    started_at: Timestamp
    ended_at: Timestamp | None
    bytes_in: int
    bytes_out: int
    exit_status: int | None
    close_reason: str
    recording_bytes: int
    recording_truncated: bool
