"""What the API answers: LLM providers and spend, datasources, SSH servers and terminals."""

from __future__ import annotations

from typing import Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    Field,
)

from remediation_app.api.schemas.base import (
    Public,
    Rounded,
    StoredFlag,
    Timestamp,
    stored,
)

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
