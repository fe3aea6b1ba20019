"""Every database table (plain SQLModel; no reflex import)."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlmodel import Column, Field, SQLModel

from remediation_app.services.crypto import register_encrypted_column


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Aware UTC datetimes in and out: timestamptz on PostgreSQL, naive UTC text on SQLite."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _ts(*, nullable: bool = False, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


def _json() -> Any:
    return Field(default_factory=dict, sa_column=Column(sa.JSON(), nullable=False))


class RuleAction(enum.StrEnum):
    AUTO_ANALYZE = "auto_analyze"
    MANUAL = "manual"
    IGNORE = "ignore"


class AlertStatus(enum.StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


class Role(enum.StrEnum):
    ADMIN = "admin"
    USER = "user"


class JobStatus(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    # Automatic jobs whose alert resolved, or that waited too long, before a worker reached them.
    CANCELLED = "cancelled"


IN_FLIGHT = (JobStatus.PENDING.value, JobStatus.RUNNING.value)


# Indexed text columns are cut to this length; the full value stays in `labels`.
SHORT = 255


class Alert(SQLModel, table=True):
    __tablename__ = "alerts"
    __table_args__ = (
        sa.UniqueConstraint("fingerprint", "starts_at", name="uq_alerts_fingerprint_starts_at"),
        sa.Index("ix_alerts_last_received_id", "last_received_at", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    fingerprint: str = Field(max_length=128)
    starts_at: datetime = _ts()
    ends_at: datetime | None = _ts(nullable=True)
    status: str = Field(max_length=16, index=True)
    alertname: str = Field(default="", max_length=SHORT, index=True)
    severity: str = Field(default="", max_length=SHORT, index=True)
    instance: str = Field(default="", max_length=SHORT)
    job: str = Field(default="", max_length=SHORT)
    summary: str = Field(default="", sa_column=Column(sa.Text(), nullable=False, server_default=""))
    labels: dict[str, str] = _json()
    annotations: dict[str, str] = _json()
    generator_url: str = Field(default="", sa_column=Column(sa.Text(), nullable=False, server_default=""))
    group_key: str = Field(default="", sa_column=Column(sa.Text(), nullable=False, server_default=""))
    receiver: str = Field(default="", max_length=SHORT)
    first_received_at: datetime = _ts()
    last_received_at: datetime = _ts()
    times_notified: int = 1
    action: str = Field(max_length=16, index=True)
    # No foreign key: a rule deleted later must not block or rewrite what an alert was decided by.
    matched_rule_id: int | None = Field(default=None, index=True)
    matched_rule_name: str = Field(default="", max_length=SHORT)
    match_reason: str = Field(default="", sa_column=Column(sa.Text(), nullable=False, server_default=""))


class Notification(SQLModel, table=True):
    """One webhook delivery as it arrived; pruned after the retention period."""

    __tablename__ = "notifications"

    id: int | None = Field(default=None, primary_key=True)
    received_at: datetime = _ts(index=True)
    receiver: str = Field(default="", max_length=SHORT)
    status: str = Field(default="", max_length=16)
    group_key: str = Field(default="", sa_column=Column(sa.Text(), nullable=False, server_default=""))
    group_labels: dict[str, str] = _json()
    common_labels: dict[str, str] = _json()
    common_annotations: dict[str, str] = _json()
    external_url: str = Field(default="", sa_column=Column(sa.Text(), nullable=False, server_default=""))
    alert_count: int = 0
    truncated_alerts: int = 0


class AlertNotification(SQLModel, table=True):
    """Which notification carried which alert, and the status it reported: the alert's timeline."""

    __tablename__ = "alert_notifications"

    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(
        sa_column=Column(sa.Integer(), sa.ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    notification_id: int = Field(
        sa_column=Column(
            sa.Integer(), sa.ForeignKey("notifications.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    status: str = Field(max_length=16)
    received_at: datetime = _ts()


class Rule(SQLModel, table=True):
    __tablename__ = "rules"
    # Ids never come back after a delete (SQLite reuses the highest one otherwise): per-rule hit counts
    # are counted by matched_rule_id.
    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=SHORT, sa_column_kwargs={"unique": True})
    description: str = Field(default="", sa_column=Column(sa.Text(), nullable=False, server_default=""))
    enabled: bool = True
    priority: int = Field(default=100, index=True)
    alertname_pattern: str = Field(default="", max_length=1024)
    severity_pattern: str = Field(default="", max_length=1024)
    instance_pattern: str = Field(default="", max_length=1024)
    job_pattern: str = Field(default="", max_length=1024)
    label_patterns: dict[str, str] = _json()
    action: str = Field(max_length=16)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class RuleSetVersion(SQLModel, table=True):
    """A single row bumped on every rule change, so each process knows when to recompile."""

    __tablename__ = "rule_set_version"

    id: int = Field(default=1, primary_key=True)
    version: int = 0


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=150, sa_column_kwargs={"unique": True})
    password_hash: str = Field(max_length=512)
    role: str = Field(default=Role.USER.value, max_length=16)
    is_active: bool = True
    token_version: int = 0
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    last_login_at: datetime | None = _ts(nullable=True)


class LoginAttempt(SQLModel, table=True):
    """Recent login attempts, for throttling by account, by known client and by address (pruned after
    the window; docs/security.md)."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        sa.Index("ix_login_attempts_username_at", "username", "at"),
        sa.Index("ix_login_attempts_address_at", "address", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _ts()
    username: str = Field(max_length=150)
    address: str = Field(max_length=64)
    success: bool = False
    # "" from a client unknown to the account, else which known client: "device:<sha256 of its
    # cookie>" or "address:<address>" (a known client's failures count only against itself).
    known_client: str = Field(default="", max_length=80, sa_column_kwargs={"server_default": ""})


class KnownClientKind(enum.StrEnum):
    DEVICE = "device"
    ADDRESS = "address"


class KnownClient(SQLModel, table=True):
    """A client that logged in to an account successfully: a browser's device cookie (only its
    SHA-256 is stored) or an address. Login throttling keeps it apart from strangers; pruned once
    LOGIN_DEVICE_DAYS / LOGIN_KNOWN_ADDRESS_DAYS have passed since its last successful login."""

    __tablename__ = "known_clients"
    __table_args__ = (
        sa.UniqueConstraint("user_id", "kind", "value", name="uq_known_clients_user_kind_value"),
        sa.Index("ix_known_clients_kind_value", "kind", "value"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(sa_column=Column(sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False))
    kind: str = Field(max_length=16)
    value: str = Field(max_length=64)
    created_at: datetime = _ts()
    last_success_at: datetime = _ts(index=True)


class AuditEvent(SQLModel, table=True):
    """Who did what, when, from where; details never hold a secret (redacted before storing)."""

    __tablename__ = "audit_events"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _ts(index=True)
    actor_id: int | None = None
    actor: str = Field(default="", max_length=150, index=True)
    action: str = Field(max_length=64, index=True)
    target: str = Field(default="", max_length=SHORT)
    address: str = Field(default="", max_length=64)
    success: bool = True
    details: dict[str, Any] = _json()


class AppSecret(SQLModel, table=True):
    """A secret an admin sets from the UI (e.g. the webhook's extra bearer token), encrypted at rest."""

    __tablename__ = "app_secrets"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    # Fernet token (services/crypto.py); re-encrypted by `python -m remediation_app rotate-keys`.
    ciphertext: str = Field(sa_column=Column(sa.Text(), nullable=False))
    updated_at: datetime = _ts()
    # The username (not a foreign key: the audit trail survives a deleted user).
    updated_by: str = Field(default="", max_length=150)


register_encrypted_column(AppSecret.__table__, pk="id", column="ciphertext", label="app secret")  # type: ignore[attr-defined]


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
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
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
    # None: the default provider when the job runs; 0: the provider from the environment (LLM_MODEL).
    provider_id: int | None = None
    # True when a rule asked (paused by the daily budget); False when a user asked.
    automatic: bool = True
    requested_by: str = Field(default="", max_length=SHORT)
    requested_by_user_id: int | None = None
    attempts: int = 0
    max_attempts: int = 4
    next_attempt_at: datetime = _ts()
    lease_expires_at: datetime | None = _ts(nullable=True)
    locked_by: str = Field(default="", max_length=SHORT)
    last_error: str = Field(default="", sa_column=Column(sa.Text(), nullable=False, server_default=""))
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    finished_at: datetime | None = _ts(nullable=True)


class Analysis(SQLModel, table=True):
    """A finished analysis: the structured fields (or the raw text when nothing parsed), tokens, cost."""

    __tablename__ = "analyses"
    __table_args__ = (sa.Index("ix_analyses_alert_created", "alert_id", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(
        sa_column=Column(sa.Integer(), sa.ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False)
    )
    job_id: int | None = None
    provider_name: str = Field(default="", max_length=100)
    model: str = Field(default="", max_length=255)
    structured: bool = False
    # root_cause, impact, immediate_actions, remediation_steps, prevention, confidence, needs_human
    result: dict[str, Any] = _json()
    urgency: str = Field(default="", max_length=16)
    raw_text: str = Field(default="", sa_column=Column(sa.Text(), nullable=False, server_default=""))
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: float | None = None
    latency_ms: int = 0
    requested_by: str = Field(default="", max_length=SHORT)
    requested_by_user_id: int | None = None
    created_at: datetime = _ts(index=True)


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
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


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
    created_at: datetime = _ts(index=True)
    finished_at: datetime | None = _ts(nullable=True)


class SSHServer(SQLModel, table=True):
    """A host users may open a terminal to. Credentials are encrypted and write-only; the host key is
    pinned (empty until an admin accepts the fingerprint: no connection before that)."""

    __tablename__ = "ssh_servers"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, sa_column_kwargs={"unique": True})
    host: str = Field(max_length=SHORT)
    port: int = 22
    username: str = Field(max_length=64)
    auth_method: str = Field(default="key", max_length=16)  # key or password
    private_key_ciphertext: str = Field(default="", sa_column=Column(sa.Text(), nullable=False, server_default=""))
    passphrase_ciphertext: str = Field(default="", sa_column=Column(sa.Text(), nullable=False, server_default=""))
    password_ciphertext: str = Field(default="", sa_column=Column(sa.Text(), nullable=False, server_default=""))
    environment: str = Field(default="", max_length=64)
    # Roles that may open it: ["admin"] or ["admin", "user"].
    allowed_roles: list[str] = Field(default_factory=list, sa_column=Column(sa.JSON(), nullable=False))
    # The accepted host key as an OpenSSH public key line, and its SHA256 fingerprint.
    host_key: str = Field(default="", sa_column=Column(sa.Text(), nullable=False, server_default=""))
    host_key_fingerprint: str = Field(default="", max_length=128)
    host_key_accepted_by: str = Field(default="", max_length=150)
    host_key_accepted_at: datetime | None = _ts(nullable=True)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    updated_by: str = Field(default="", max_length=150)


for _column, _label in (
    ("private_key_ciphertext", "SSH private key"),
    ("passphrase_ciphertext", "SSH key passphrase"),
    ("password_ciphertext", "SSH password"),
):
    register_encrypted_column(SSHServer.__table__, pk="id", column=_column, label=_label)  # type: ignore[attr-defined]


class TerminalTicket(SQLModel, table=True):
    """A one-time, short-lived ticket that opens one terminal WebSocket (only its hash is stored)."""

    __tablename__ = "terminal_tickets"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    user_id: int
    # The login (the user's token version) that asked for it: a logout or any revocation kills it.
    token_version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    server_id: int
    alert_id: int | None = None
    expires_at: datetime = _ts(index=True)
    used_at: datetime | None = _ts(nullable=True)
    created_at: datetime = _ts()


class TerminalSession(SQLModel, table=True):
    """One terminal session: who, where, when, how much, how it ended. Its recording is in chunks."""

    __tablename__ = "terminal_sessions"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int | None = Field(default=None, index=True)
    username: str = Field(default="", max_length=150)
    server_id: int | None = None
    server_name: str = Field(default="", max_length=100)
    alert_id: int | None = None
    started_at: datetime = _ts(index=True)
    ended_at: datetime | None = _ts(nullable=True)
    bytes_in: int = 0
    bytes_out: int = 0
    exit_status: int | None = None
    close_reason: str = Field(default="", sa_column=Column(sa.Text(), nullable=False, server_default=""))
    recording_bytes: int = 0
    recording_truncated: bool = False
    # Which process runs it, and when it last said so: an open session whose heartbeat is old was cut
    # off (the process died) and no longer counts against the user's limit.
    worker: str = Field(default="", max_length=SHORT)
    heartbeat_at: datetime | None = _ts(nullable=True)


class TerminalRecordingChunk(SQLModel, table=True):
    """A piece of a session's asciicast v2 recording (event lines), encrypted at rest."""

    __tablename__ = "terminal_recording_chunks"
    __table_args__ = (sa.UniqueConstraint("session_id", "seq", name="uq_terminal_recording_chunks_session_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    session_id: int = Field(
        sa_column=Column(sa.Integer(), sa.ForeignKey("terminal_sessions.id", ondelete="CASCADE"), nullable=False)
    )
    seq: int
    ciphertext: str = Field(sa_column=Column(sa.Text(), nullable=False))


register_encrypted_column(
    TerminalRecordingChunk.__table__,  # type: ignore[attr-defined]
    pk="id",
    column="ciphertext",
    label="terminal recording",
)
