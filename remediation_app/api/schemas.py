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


class ConnectionPublic(Public):
    """A connection to a system the engine calls (a datasource, an Alertmanager); never its credential."""

    id: int = Field(description="0: the one set by the environment")
    name: str
    url: str = Field(description="without credentials, query string or fragment")
    auth: Literal["none", "bearer", "basic"]
    username: str = Field(description="basic authentication's user name")
    has_secret: StoredFlag = stored("secret_ciphertext")  # the bearer token or basic-auth password
    timeout_s: float
    is_default: bool
    enabled: bool
    source: Literal["database", "environment"] = "database"


class DatasourcePublic(ConnectionPublic):
    id: int = Field(description="0: the datasource set by the environment (PROMETHEUS_URL)")


class DatasourceTestPassed(BaseModel):
    ok: Literal[True]
    version: str = Field(description='the datasource\'s version from its build information, or "unknown"')


class DatasourceTestFailed(BaseModel):
    ok: Literal[False]
    error: str = Field(description="what failed, naming the datasource or Alertmanager (never its credential)")


# ---- Alertmanager: connections, silences, acks -----------------------------------------------------


class AlertmanagerPublic(ConnectionPublic):
    id: int = Field(description="0: the Alertmanager set by the environment (ALERTMANAGER_URL)")
    external_url: str = Field(description="the URL it advertises in notifications (externalURL), when not `url`")


class AlertmanagerTestPassed(BaseModel):
    ok: Literal[True]
    version: str = Field(description="Alertmanager's version (GET /api/v2/status)")
    cluster: str = Field(description="its cluster's status: ready, settling or disabled")


class MatcherPublic(BaseModel):
    """A label matcher as Alertmanager writes it: name=value (isEqual, not isRegex), != (not isEqual),
    =~ and !~ (isRegex, RE2 syntax, anchored)."""

    model_config = ConfigDict(populate_by_name=True)

    name: str = Field(max_length=255, examples=["alertname"])
    value: str = Field(max_length=1024, examples=["DiskWillFillSoon"])
    is_regex: bool = Field(default=False, alias="isRegex")
    is_equal: bool = Field(default=True, alias="isEqual")


class SilenceCovering(Public):
    """An active silence in Alertmanager that covers the alert (ours or made elsewhere)."""

    silence_id: str = Field(description="Alertmanager's id (DELETE /api/silences/{silence_id} expires it)")
    alertmanager: str = Field(description='the connection\'s name ("environment": ALERTMANAGER_URL)')
    kind: Literal["silence", "ack", "external"] = Field(description="external: made outside the engine")
    matchers: list[MatcherPublic]
    comment: str
    created_by: str
    starts_at: Timestamp | None
    ends_at: Timestamp | None
    state: str = Field(description="active, or (for one made here) expired")


class SilencePublic(SilenceCovering):
    """A silence made through the engine (kind silence or ack), or one made elsewhere and expired here
    (kind external)."""

    alert_id: int | None
    expired_at: Timestamp | None
    expired_by: str = Field(description='who expired it, "engine" (an ack\'s alert resolved) or "alertmanager"')


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


# ---- notifications --------------------------------------------------------------------------------

NotifyEvent = Literal["alert", "analysis", "proposal", "fix_verified", "fix_failed"]


class NotifyRoutePublic(BaseModel):
    """A notification route; never its Apprise URL (it carries the target's tokens), only its kind."""

    id: int = Field(description='0: the read-only route "environment" (NOTIFY_URLS)')
    name: str
    target_kind: str = Field(description="the URL's Apprise scheme (json, mailto, slack...); NOTIFY_URLS': each one's")
    has_url: bool
    url_count: int = Field(description="URLs behind the route (NOTIFY_URLS may hold several)")
    events: list[NotifyEvent]
    rule_ids: list[int] = Field(description="for new alerts: the rules whose alerts it wants; [] any rule but ignore")
    rules: list[str] = Field(description="those rules' names")
    label_patterns: dict[str, str] = Field(description="label -> pattern (the rules' syntax); all must match")
    throttle_max: int = Field(description="at most this many messages per throttle_minutes; the excess is summarized")
    throttle_minutes: int
    enabled: bool
    source: Literal["database", "environment"] = "database"


class NotifyTestPassed(BaseModel):
    ok: Literal[True]
    sent: int = Field(description="targets the test message reached")


class NotifyTestFailed(BaseModel):
    ok: Literal[False]
    error: str = Field(description="what failed, with every part of the URL masked")


class NotifyDeliveryPublic(BaseModel):
    """One message for one target, as queued and sent (the error masked: never a part of the URL)."""

    id: int
    route_id: int | None = Field(description="null for a NOTIFY_URLS target")
    route_name: str
    target_kind: str
    event: Literal["alert", "analysis", "proposal", "fix_verified", "fix_failed", "summary"]
    event_label: str
    alert_id: int | None
    status: Literal["pending", "sending", "sent", "failed", "throttled", "cancelled"]
    attempts: int
    max_attempts: int
    last_error: str
    summary_id: int | None = Field(description="a throttled delivery: the summary message that counted it")
    created_at: Timestamp
    next_attempt_at: Timestamp | None = Field(description="a pending one: when it is tried (again)")
    finished_at: Timestamp | None


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
