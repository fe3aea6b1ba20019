"""Settings: the one place that reads the environment."""

from __future__ import annotations

import base64
import functools
import logging
import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

log = logging.getLogger(__name__)


def normalize_database_url(url: str) -> str:
    """Accept the usual spellings of a PostgreSQL URL and pick the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def async_database_url(url: str) -> str:
    """The async driver URL for a sync one (psycopg 3 does both; SQLite needs aiosqlite)."""
    if url.startswith("sqlite://"):
        return "sqlite+aiosqlite://" + url[len("sqlite://") :]
    return url


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    # -- where and how it runs --------------------------------------------------------------------
    database_url: str = Field(
        default="sqlite:///data/remediation.db",
        description="`sqlite:///path` or `postgresql+psycopg://user:pass@host:5432/db` (`postgres://` and "
        "`postgresql://` are accepted and use psycopg 3). The default file is relative to the working "
        "directory.",
    )
    data_dir: Path = Field(
        default=Path("data"),
        description="Where generated keys and metrics files live (the default SQLite file is in `data/` of the working "
        "directory whatever this says: set DATABASE_URL too when moving it).",
    )
    port: int = Field(default=8080, ge=1, le=65535, description="The one port for UI, API and webhook.")
    db_statement_timeout_seconds: float = Field(
        default=30.0,
        ge=0,
        description="PostgreSQL cancels a statement running longer (a held lock or a stuck database then gives "
        "the webhook a 503 for Alertmanager to retry, instead of a hung request); `0` turns it off; "
        "migrations run without it.",
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis for Reflex's page state and the cross-process event bus: needed for several "
        "workers or replicas.",
    )
    log_level: str = Field(default="INFO", description="DEBUG, INFO, WARNING, ERROR or CRITICAL.")
    log_format: Literal["json", "console"] = Field(
        default="console", description="`json` for one JSON object a line (production), `console` for people."
    )

    # -- secrets --------------------------------------------------------------------------------------
    secret_key: SecretStr | None = Field(
        default=None, description="Signs login tokens; generated into `DATA_DIR/secret_key` when unset. Never logged."
    )
    encryption_key: SecretStr | None = Field(
        default=None,
        description="Fernet key(s) for secrets at rest, comma-separated, newest first (see `rotate-keys`); "
        "generated into `DATA_DIR/encryption_key` when unset. Never logged.",
    )

    # -- the webhook ------------------------------------------------------------------------------------
    webhook_token: SecretStr | None = Field(default=None, description="Bearer token Alertmanager must send.")
    webhook_username: str | None = Field(default=None, description="Basic auth user for the webhook.")
    webhook_password: SecretStr | None = Field(default=None, description="Basic auth password for the webhook.")
    webhook_allow_unauthenticated: bool = Field(
        default=False,
        description="`true` opens the webhook to anyone who can reach it; without it and without a credential, "
        "every webhook request is refused.",
    )
    webhook_max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024, description="Larger webhook bodies get 413.")

    # -- logins and the browser ---------------------------------------------------------------------------
    admin_username: str = Field(default="admin", description="The first admin, created when there are no users.")
    admin_password: SecretStr | None = Field(
        default=None, description="The first admin's password; generated and printed once when unset."
    )
    access_token_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60, description="Lifetime of a login token.")
    cookie_secure: Literal["auto", "true", "false"] = Field(
        default="auto",
        description="`auto`: the session cookie is `Secure` when the request came over https (see "
        "TRUST_PROXY_HEADERS); `true`/`false` force it.",
    )
    trust_proxy_headers: bool = Field(
        default=False,
        description="`true` behind a reverse proxy: take the client address from `X-Forwarded-For` and the "
        "scheme from `X-Forwarded-Proto` (only if the proxy sets them and clients cannot reach the app directly).",
    )
    public_url: str | None = Field(
        default=None,
        description="The URL users open the app at (behind a proxy, its public https URL); its origin may use "
        "the session like the origin a request is addressed to (docs/security.md); notifications link to its "
        "alert pages (`PUBLIC_URL/alerts/<id>`).",
    )
    allowed_origins: str = Field(
        default="",
        description="More origins (comma-separated `scheme://host[:port]`) whose pages may use a logged-in "
        "session; every other origin is refused on the event socket, the terminal socket and "
        "cookie-authenticated writes.",
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="Bearer token `GET /metrics` requires when set (open when unset: keep it on a private network).",
    )
    login_window_minutes: int = Field(default=15, ge=1, description="The login throttling window.")
    login_max_failures_per_user: int = Field(
        default=5,
        ge=1,
        description="Failed logins per account within the window from clients it does not know (all together), "
        "and per known client (docs/security.md).",
    )
    login_max_failures_per_address: int = Field(
        default=20, ge=1, description="Failed logins per client address within the window, whatever the account."
    )
    login_device_days: int = Field(
        default=90,
        ge=1,
        le=3650,
        description="A browser stays known to an account by its device cookie this many days after its last "
        "successful login.",
    )
    login_known_address_days: int = Field(
        default=30,
        ge=0,
        le=3650,
        description="An address stays known to an account this many days after a successful login from it "
        "(`0`: an address alone never makes a client known).",
    )
    login_hash_concurrency: int = Field(
        default=2, ge=1, description="Password hashes (argon2, 19 MiB each) computed at once."
    )
    login_max_waiting: int = Field(
        default=16, ge=0, description='Logins waiting for a hashing slot; more get 503 "busy".'
    )

    # -- the LLM ------------------------------------------------------------------------------------------
    llm_model: str | None = Field(
        default=None,
        description="A provider from the environment, as a LiteLLM model string (e.g. `openai/gpt-4o-mini`, "
        "`ollama/llama3.1`); shown read-only on the providers page.",
    )
    llm_api_base: str | None = Field(default=None, description="The environment provider's API base URL.")
    llm_api_key: SecretStr | None = Field(default=None, description="The environment provider's API key.")
    llm_timeout_seconds: float = Field(default=60.0, gt=0, le=3600, description="Per call to the environment provider.")
    llm_max_tokens: int = Field(
        default=1500, ge=16, le=200_000, description="Answer length of the environment provider."
    )
    llm_temperature: float = Field(default=0.2, ge=0, le=2, description="The environment provider's temperature.")
    llm_tool_calling: Literal["auto", "on", "off"] = Field(
        default="auto",
        description="Whether the environment provider's model is offered tools (PromQL queries, alert search, "
        "history) during an analysis: `auto` when LiteLLM knows the model supports function calling, `on`, `off` "
        "(one call with the gathered evidence).",
    )
    llm_local: bool = Field(
        default=False,
        description="`true`: the environment provider is self-hosted (Ollama, vLLM), so prompts sent to it skip "
        "the redaction of secrets.",
    )
    llm_daily_budget_usd: float | None = Field(
        default=None,
        ge=0,
        description="Automatic analysis pauses once today's (UTC) LLM spend reaches this; users can still ask.",
    )

    # -- investigation: evidence from Prometheus-compatible datasources ----------------------------------
    prometheus_url: str | None = Field(
        default=None,
        description="A Prometheus-compatible query API (Prometheus, Thanos, Mimir, VictoriaMetrics) consulted "
        "before each analysis, used for alerts no datasource on the admin page matches by their generatorURL's "
        "host. Credentials may be in the URL (`http://user:pass@host:9090`).",
    )
    prometheus_bearer_token: SecretStr | None = Field(
        default=None, description="Bearer token for `PROMETHEUS_URL` (never shown or logged)."
    )
    prometheus_timeout_seconds: float = Field(default=5.0, gt=0, le=60, description="Per query to `PROMETHEUS_URL`.")
    investigation_budget_seconds: float = Field(
        default=8.0,
        gt=0,
        le=120,
        description="Wall time for gathering the deterministic evidence of one analysis, all queries together.",
    )
    investigation_window_hours: float = Field(
        default=3.0,
        gt=0,
        le=24,
        description="How far before the alert's start the metric evidence reaches (it ends now, at most 24 h in all).",
    )
    investigation_tool_steps: int = Field(
        default=6, ge=1, le=20, description="Model calls per analysis when the model may call tools."
    )
    investigation_wall_seconds: float = Field(
        default=120.0, gt=0, le=900, description="Wall time for an analysis' tool-calling loop."
    )
    investigation_max_tokens: int = Field(
        default=60_000, ge=1000, description="Prompt and answer tokens per analysis, summed over its model calls."
    )
    investigation_max_cost_usd: float | None = Field(
        default=None, ge=0, description="Cost per analysis over its model calls; no bound when unset."
    )

    # -- Alertmanager both ways: silences, acks, the sync loop -------------------------------------------
    alertmanager_url: str | None = Field(
        default=None,
        description="An Alertmanager's API (`http://alertmanager:9093`), shown read-only as the connection "
        '"environment" on the Alertmanagers page: silences and acks go there for alerts no stored connection '
        "matches by the notification's externalURL.",
    )
    alertmanager_bearer_token: SecretStr | None = Field(
        default=None, description="Bearer token for `ALERTMANAGER_URL` (never shown or logged)."
    )
    alertmanager_timeout_seconds: float = Field(default=5.0, gt=0, le=60, description="Per call to `ALERTMANAGER_URL`.")
    alertmanager_sync_seconds: float = Field(
        default=30.0,
        ge=0,
        le=3600,
        description="How often the engine reads each Alertmanager's alerts (active, silenced, inhibited) and "
        "expires the acks of resolved alerts; `0` turns the sync off.",
    )
    silence_max_days: float = Field(
        default=30.0, gt=0, le=366, description="The longest silence a user may create from the engine."
    )
    ack_max_hours: float = Field(
        default=24.0,
        gt=0,
        le=24 * 366,
        description="An ack's silence ends after this even when the alert has not resolved.",
    )
    analyze_suppressed: bool = Field(
        default=False,
        description="`true`: alerts Alertmanager reports silenced or inhibited are still analysed automatically "
        "(by default their automatic analysis is skipped; a user can still ask for one).",
    )

    # -- the analysis queue -------------------------------------------------------------------------------
    analysis_workers_enabled: bool = Field(
        default=True, description="`false`: this process takes no analysis jobs (another one does)."
    )
    analysis_concurrency: int = Field(default=4, ge=1, le=256, description="Analyses running at once per process.")
    analysis_max_attempts: int = Field(
        default=4, ge=1, le=20, description="Tries per job on timeouts, 5xx, 429 and refused connections."
    )
    analysis_retry_base_seconds: float = Field(
        default=5.0, gt=0, description="First retry delay (doubled each time, with jitter)."
    )
    analysis_retry_max_seconds: float = Field(default=300.0, gt=0, description="Longest retry delay.")
    analysis_lease_seconds: float = Field(
        default=120.0, ge=1, description="A claimed job left by a crashed process is taken over after this."
    )
    analysis_poll_seconds: float = Field(
        default=2.0, gt=0, le=60, description="How often idle workers look for jobs (new jobs also wake them)."
    )
    analysis_dedup_minutes: float = Field(
        default=60.0, ge=0, description="A fingerprint analysed this recently is not analysed again automatically."
    )
    analysis_max_wait_minutes: float = Field(
        default=360.0,
        gt=0,
        description="Automatic jobs still waiting after this long (no provider, budget reached) are cancelled.",
    )
    storm_threshold: int = Field(
        default=5,
        ge=0,
        le=100_000,
        description="Storm control: when one incident (an Alertmanager group) brings more new automatically "
        "analysed alerts than this at once (or within `ANALYSIS_DEDUP_MINUTES`), it is analysed once as a "
        "group instead of once per alert; `0` turns storm control off.",
    )

    # -- browser terminals (SSH) --------------------------------------------------------------------------
    terminal_ticket_seconds: int = Field(
        default=30, ge=5, le=600, description="Lifetime of the one-time ticket that opens a terminal."
    )
    terminal_idle_minutes: float = Field(default=15.0, gt=0, description="A terminal without input closes after this.")
    terminal_max_sessions_per_user: int = Field(
        default=3, ge=1, le=100, description="Terminals a user may have open at once."
    )
    terminal_recording_max_mb: int = Field(
        default=64, ge=1, description="A session's recording stops growing past this (marked truncated)."
    )

    # -- approval-gated diagnostics (docs/diagnostics.md) ------------------------------------------------
    proposal_expiry_minutes: float = Field(
        default=30.0,
        gt=0,
        le=7 * 24 * 60,
        description="A command a model proposed that nobody approved or rejected within this time expires "
        "(it never runs).",
    )
    diagnostic_timeout_seconds: float = Field(
        default=20.0,
        gt=0,
        le=600,
        description="An approved command's time limit on its server: past it the command is stopped and the run "
        "marked failed (the output so far kept).",
    )
    diagnostic_output_max_bytes: int = Field(
        default=65536,
        ge=1024,
        le=16 * 1024 * 1024,
        description="Output (stdout and stderr together) an approved command may return; past it the command is "
        "stopped and its output marked truncated.",
    )

    # -- outcomes and incident memory (docs/memory.md) ------------------------------------------------------
    fix_verify_window_minutes: float = Field(
        default=30.0,
        gt=0,
        le=7 * 24 * 60,
        description="A recorded fix is verified when its alert resolved within this time after the fix's last "
        "command (and did not fire again within `FIX_HOLD_MINUTES`); not resolved by then: unverified.",
    )
    fix_hold_minutes: float = Field(
        default=120.0,
        ge=0,
        le=30 * 24 * 60,
        description="How long a resolved alert must stay resolved for its fix to count as verified; firing again "
        "within it marks the fix failed. At its end the alert's expression is evaluated again where a datasource "
        "is configured (still true: failed).",
    )
    fix_verify_interval_seconds: float = Field(
        default=60.0,
        ge=0,
        le=3600,
        description="How often the engine judges the fixes waiting for a verdict (a stored notification also wakes "
        "it); 0: this process does not (another one does).",
    )

    # -- notifications (docs/notifications.md) -------------------------------------------------------------
    notify_urls: SecretStr | None = Field(
        default=None,
        description="Apprise URLs (`slack://...`, `mailto://...`, `json://...`), separated by commas or spaces: "
        'every analysis that finishes is sent to each, as the read-only route "environment" on the '
        "Notifications page. They carry tokens and passwords: never shown or logged.",
    )
    notify_worker_enabled: bool = Field(
        default=True, description="`false`: this process sends no notifications (another one does)."
    )
    notify_concurrency: int = Field(default=4, ge=1, le=64, description="Notifications sent at once per process.")
    notify_timeout_seconds: float = Field(
        default=20.0, gt=0, le=300, description="One attempt to send a notification; past it the attempt failed."
    )
    notify_max_attempts: int = Field(
        default=6, ge=1, le=50, description="Tries per notification before it is marked failed (shown to admins)."
    )
    notify_retry_base_seconds: float = Field(
        default=10.0, gt=0, description="First retry delay of a notification (doubled each time, with jitter)."
    )
    notify_retry_max_seconds: float = Field(default=900.0, gt=0, description="Longest retry delay of a notification.")

    # -- housekeeping -------------------------------------------------------------------------------------
    notification_retention_days: int = Field(
        default=30, ge=1, description="Notifications (the alerts' timelines) older than this are deleted."
    )

    @field_validator("public_url", "allowed_origins")
    @classmethod
    def _origins(cls, v: str | None) -> str | None:
        for item in (v or "").split(","):
            if item.strip() and not item.strip().lower().startswith(("http://", "https://")):
                raise ValueError(f"{item.strip()!r} is not an http:// or https:// URL")
        return v

    @property
    def origin_list(self) -> list[str]:
        """PUBLIC_URL and ALLOWED_ORIGINS as given (services.security normalizes them)."""
        items = [self.public_url or "", *self.allowed_origins.split(",")]
        return [item.strip() for item in items if item.strip()]

    @field_validator("database_url")
    @classmethod
    def _normalize_db(cls, v: str) -> str:
        return normalize_database_url(v)

    @field_validator("log_level")
    @classmethod
    def _level(cls, v: str) -> str:
        v = v.upper()
        if v not in logging.getLevelNamesMapping():
            raise ValueError(f"unknown log level {v!r}")
        return v

    @field_validator("cookie_secure", "log_format", "llm_tool_calling", mode="before")
    @classmethod
    def _lower(cls, v: object) -> object:
        return v.strip().lower() if isinstance(v, str) else v

    @field_validator("*", mode="before")
    @classmethod
    def _empty_is_none(cls, v: object, info: ValidationInfo) -> object:
        """An optional setting (default None, a secret or not) given empty (`X=` in a compose file) is unset."""
        optional = info.field_name is not None and cls.model_fields[info.field_name].default is None
        return None if v == "" and optional else v

    @property
    def async_database_url(self) -> str:
        return async_database_url(self.database_url)

    @property
    def webhook_auth_configured(self) -> bool:
        return self.webhook_token is not None or (
            self.webhook_username is not None and self.webhook_password is not None
        )

    def resolve_secret_key(self) -> str:
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        return _persisted_secret(self.data_dir / "secret_key", lambda: secrets.token_urlsafe(48))

    def resolve_encryption_key(self) -> str:
        if self.encryption_key is not None:
            return self.encryption_key.get_secret_value()
        return _persisted_secret(
            self.data_dir / "encryption_key",
            lambda: base64.urlsafe_b64encode(os.urandom(32)).decode(),
        )


def _persisted_secret(path: Path, make: Callable[[], str]) -> str:
    """Read a generated secret, creating it (0600, atomically, once across processes) if absent."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as f:
            f.write(make())
        log.info("generated %s (kept for later starts)", path)
    for _ in range(50):  # another process may be between create and write
        value = path.read_text().strip()
        if value:
            return value
        time.sleep(0.02)
    raise RuntimeError(f"{path} is empty; delete it to generate a new one")


@functools.cache
def get_settings() -> Settings:
    return Settings()
