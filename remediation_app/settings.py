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

from pydantic import Field, SecretStr, field_validator
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

    database_url: str = "sqlite:///data/remediation.db"
    data_dir: Path = Path("data")
    port: int = Field(default=8080, ge=1, le=65535)

    secret_key: SecretStr | None = None
    encryption_key: SecretStr | None = None

    webhook_token: SecretStr | None = None
    webhook_username: str | None = None
    webhook_password: SecretStr | None = None
    webhook_allow_unauthenticated: bool = False
    webhook_max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)

    admin_username: str = "admin"
    admin_password: SecretStr | None = None

    access_token_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)
    # Secure cookie flag: "auto" sets it when the request came over https (see TRUST_PROXY_HEADERS).
    cookie_secure: Literal["auto", "true", "false"] = "auto"
    # Behind a TLS-terminating proxy: take the client address and scheme from X-Forwarded-For/-Proto.
    trust_proxy_headers: bool = False
    # The URL users open the app at (behind a reverse proxy: its public https URL). Its origin may
    # use the session cookie, like the origin a request is addressed to (its Host header).
    public_url: str | None = None
    # More origins allowed to use the session (comma-separated scheme://host[:port]); every other
    # origin is refused on the event socket, the terminal socket and cookie-authenticated writes.
    allowed_origins: str = ""
    # Bearer token that GET /metrics requires when set (open when unset: keep it on a private network).
    metrics_token: SecretStr | None = None
    login_window_minutes: int = Field(default=15, ge=1)
    login_max_failures_per_user: int = Field(default=5, ge=1)
    login_max_failures_per_address: int = Field(default=20, ge=1)
    # Clients that logged in before keep their own failure count (docs/security.md): a browser by its
    # device cookie for this many days after its last successful login, any client by its address
    # for LOGIN_KNOWN_ADDRESS_DAYS (0: an address alone never makes a client known).
    login_device_days: int = Field(default=90, ge=1, le=3650)
    login_known_address_days: int = Field(default=30, ge=0, le=3650)
    # Password hashing (argon2, 19 MiB each) runs at most this many at once; more waiting get "busy".
    login_hash_concurrency: int = Field(default=2, ge=1)
    login_max_waiting: int = Field(default=16, ge=0)

    # An LLM provider from the environment (shown read-only on the providers page).
    llm_model: str | None = None
    llm_api_base: str | None = None
    llm_api_key: SecretStr | None = None
    llm_timeout_seconds: float = Field(default=60.0, gt=0, le=3600)
    llm_max_tokens: int = Field(default=1500, ge=16, le=200_000)
    llm_temperature: float = Field(default=0.2, ge=0, le=2)
    # Automatic analysis pauses once today's (UTC) LLM spend reaches this; users can still ask.
    llm_daily_budget_usd: float | None = Field(default=None, ge=0)

    # The analysis queue (workers run in every app process unless ANALYSIS_WORKERS_ENABLED=false).
    analysis_workers_enabled: bool = True
    analysis_concurrency: int = Field(default=4, ge=1, le=256)
    analysis_max_attempts: int = Field(default=4, ge=1, le=20)
    analysis_retry_base_seconds: float = Field(default=5.0, gt=0)
    analysis_retry_max_seconds: float = Field(default=300.0, gt=0)
    analysis_lease_seconds: float = Field(default=120.0, ge=1)
    analysis_poll_seconds: float = Field(default=2.0, gt=0, le=60)
    # A fingerprint analysed this recently is not analysed again automatically.
    analysis_dedup_minutes: float = Field(default=60.0, ge=0)
    # Automatic jobs still waiting after this long (no provider, budget reached) are cancelled.
    analysis_max_wait_minutes: float = Field(default=360.0, gt=0)

    # Browser terminals (SSH).
    terminal_ticket_seconds: int = Field(default=30, ge=5, le=600)
    terminal_idle_minutes: float = Field(default=15.0, gt=0)
    terminal_max_sessions_per_user: int = Field(default=3, ge=1, le=100)
    terminal_recording_max_mb: int = Field(default=64, ge=1)

    # PostgreSQL: a statement running longer is cancelled (the webhook then answers 503 instead of
    # hanging on a stuck database or a held lock). 0 turns it off. Migrations run without it.
    db_statement_timeout_seconds: float = Field(default=30.0, ge=0)

    redis_url: str | None = None
    notification_retention_days: int = Field(default=30, ge=1)

    log_level: str = "INFO"
    log_format: Literal["json", "console"] = "console"

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

    @field_validator("cookie_secure", "log_format", mode="before")
    @classmethod
    def _lower(cls, v: object) -> object:
        return v.strip().lower() if isinstance(v, str) else v

    @field_validator(
        "redis_url",
        "webhook_username",
        "llm_model",
        "llm_api_base",
        "llm_daily_budget_usd",
        "public_url",
        mode="before",
    )
    @classmethod
    def _empty_is_none(cls, v: object) -> object:
        return None if v == "" else v

    @field_validator(
        "secret_key",
        "encryption_key",
        "webhook_token",
        "webhook_password",
        "admin_password",
        "llm_api_key",
        "metrics_token",
        mode="before",
    )
    @classmethod
    def _empty_secret_is_none(cls, v: object) -> object:
        return None if v == "" else v

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
