"""Connections admins keep to the systems the engine calls over HTTP (datasources, Alertmanagers):
the form's fields and their checks, the write-only credential (encrypted), the audited save, the
public view (never the credential), the connection set by the environment (read-only, id 0, named
"environment"), Test connection, and which connection serves an alert that none matches.

A kind of connection is a `ConnectionKind`: its records (table, noun, refusal, audit prefix), the
setting that gives the environment's one, and the columns it has beyond the common ones.
"""

from __future__ import annotations

import math
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit

from pydantic import SecretStr
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.crypto import decrypt, encrypt, record_name
from remediation_app.models import User, utcnow
from remediation_app.services.bounded_http import Endpoint, RemoteError, display_url
from remediation_app.services.records import ENV_ID, FieldError, Records, check_secret

ENV_NAME = "environment"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}$")
AUTH_KINDS = ("none", "bearer", "basic")
MAX_SECRET = 4096
URL_MAX = 1024
R = TypeVar("R", bound=SQLModel)
Config = TypeVar("Config", bound=Endpoint)


@dataclass
class ConnectionInput:
    """A form's fields. secret: None keeps the stored one, "" removes it, text replaces it."""

    name: str
    url: str
    auth: str = "none"
    username: str = ""
    secret: str | None = None
    timeout_s: float = 5.0
    is_default: bool = False
    enabled: bool = True


def host_of(url: str) -> str | None:
    """`host[:port]` of a URL, lowercased (None when it has none): a credential never follows a
    connection to another host."""
    try:
        parts = urlsplit(url.rpartition("@")[2] if "://" not in url else url)
        host = parts.hostname
        port = parts.port
    except ValueError:
        return None
    if not host:
        return None
    return f"{host.lower()}:{port}" if port else host.lower()


def check_http_url(error: type[FieldError], field: str, url: str, example: str) -> None:
    """An http(s) URL with a host, without spaces or credentials in it."""
    if len(url) > URL_MAX:
        raise error(field, f"at most {URL_MAX} characters")
    try:
        parts = urlsplit(url)
    except ValueError:
        raise error(field, "not a URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in url):
        raise error(field, f"an http:// or https:// URL such as {example}")
    if parts.username or parts.password:
        raise error(field, "put credentials in the authentication fields, not in the URL")


def from_environment(config: type[Config], url: str | None, token: SecretStr | None, timeout_s: float) -> Config | None:
    """The connection a kind's settings give (None when its URL is unset), named ENV_NAME."""
    if not url:
        return None
    return config(name=ENV_NAME, url=url, bearer_token=token.get_secret_value() if token else "", timeout_s=timeout_s)


@dataclass(frozen=True)
class ConnectionKind(Generic[R, Config]):
    """One kind of connection. `config` builds what a client takes from the common fields;
    `env` is the environment's connection (None when `env_setting` is unset); `columns` are the
    kind's own fields, copied from its input to the row and shown in the public view; `alias_urls`
    those of them that hold another URL the system is known by (matched like `url` by `pick`)."""

    records: Records[R]
    env_setting: str  # "PROMETHEUS_URL"
    url_example: str  # "http://prometheus:9090"
    config: type[Config]
    env: Callable[[], Config | None]
    columns: tuple[str, ...] = ()
    alias_urls: tuple[str, ...] = ()
    input: type[ConnectionInput] = ConnectionInput  # its form's fields: ConnectionInput's and `columns`
    # What else refers to a connection by name, told of a rename in the same transaction (old, new).
    renamed: Callable[[AsyncSession, str, str], Awaitable[None]] | None = None

    @property
    def noun(self) -> str:
        return self.records.noun

    def check(self, data: ConnectionInput) -> None:
        error = self.records.error
        if not NAME_RE.match(data.name):
            raise error("name", "1-100 letters, digits, spaces, '.', '_' or '-'")
        if data.name.strip().lower() == ENV_NAME:
            raise error("name", f"{ENV_NAME!r} is the {self.noun} from {self.env_setting}")
        check_http_url(error, "url", data.url, self.url_example)
        if data.auth not in AUTH_KINDS:
            raise error("auth", "one of " + ", ".join(AUTH_KINDS))
        if data.auth == "basic" and not data.username:
            raise error("username", "basic authentication needs a user name")
        if len(data.username) > 255 or any(ord(c) < 0x20 or c == ":" for c in data.username):
            raise error("username", "at most 255 characters, no ':' or control characters")
        check_secret(error, "secret", data.secret, MAX_SECRET)
        if not (math.isfinite(data.timeout_s) and 0.5 <= data.timeout_s <= 60):
            raise error("timeout_s", "between 0.5 and 60 seconds")
        for column in self.alias_urls:
            value = str(getattr(data, column)).strip()
            setattr(data, column, value)
            if value:
                check_http_url(error, column, value, self.url_example)

    def config_of(self, row: Any) -> Config:
        """What a client takes (decrypts the credential: DecryptionError names the record)."""
        label = f"{self.noun} {row.name!r} credential"
        table = str(getattr(self.records.model, "__tablename__", ""))
        secret = (
            decrypt(row.secret_ciphertext, record=record_name(table, row.id, label)) if row.secret_ciphertext else ""
        )
        return self.config(
            name=row.name,
            url=row.url,
            bearer_token=secret if row.auth == "bearer" else "",
            username=row.username if row.auth == "basic" else "",
            password=secret if row.auth == "basic" else "",
            timeout_s=row.timeout_s,
        )

    async def save(
        self, session: AsyncSession, data: ConnectionInput, *, row_id: int | None, actor: User, address: str = ""
    ) -> Any:
        """Create (row_id None) or update a connection, audited (never the secret). The caller
        checks the kind's own columns first, and commits."""
        data.name, data.url, data.username = data.name.strip(), data.url.strip(), data.username.strip()
        self.check(data)
        error = self.records.error
        if row_id is None:
            model: Any = self.records.model
            row = model(name=data.name, url=data.url, created_at=utcnow())
        else:
            row = await self.records.stored(session, row_id)
        old_name = None if row_id is None else row.name
        await self.records.check_name(session, data.name, row_id)
        moved = row_id is not None and host_of(row.url) != host_of(data.url)
        if moved and data.secret is None and row.secret_ciphertext:
            # Otherwise an admin (or a stolen admin session) could send the write-only credential elsewhere.
            raise error("secret", "the URL's host changed: enter the credential again")
        credential_change = "kept"
        if data.auth == "none":
            credential_change = "removed" if row.secret_ciphertext else "kept"
            row.secret_ciphertext = ""
        elif data.secret is not None:
            row.secret_ciphertext = encrypt(data.secret) if data.secret else ""
            credential_change = "set" if data.secret else "removed"
        if data.auth == "bearer" and not row.secret_ciphertext:
            raise error("secret", "bearer authentication needs a token")
        row.name, row.url, row.auth, row.username = data.name, data.url, data.auth, data.username
        row.timeout_s, row.enabled = data.timeout_s, data.enabled
        for column in self.columns:
            setattr(row, column, getattr(data, column))
        row.is_default = data.is_default and data.enabled
        row.updated_at, row.updated_by = utcnow(), actor.username
        await self.records.only_default(session, row)
        session.add(row)
        await session.flush()
        if self.renamed is not None and old_name is not None and old_name != row.name:
            await self.renamed(session, old_name, row.name)
        details = {**{k: v for k, v in self.public(row).items() if k != "source"}, "auth_change": credential_change}
        self.records.audit_saved(session, row, created=row_id is None, actor=actor, address=address, details=details)
        return row

    def public(self, row: Any) -> dict[str, Any]:
        """The browser's view: never the credential, only whether one is stored."""
        return {
            "id": row.id,
            "name": row.name,
            "url": display_url(row.url),
            **{column: getattr(row, column) for column in self.columns},
            "auth": row.auth,
            "username": row.username,
            "has_secret": bool(row.secret_ciphertext),
            "timeout_s": row.timeout_s,
            "is_default": row.is_default,
            "enabled": row.enabled,
            "source": "database",
        }

    def env_public(self) -> dict[str, Any] | None:
        env = self.env()
        if env is None:
            return None
        in_url = host_of(env.url) is not None and "@" in urlsplit(env.url).netloc
        return {
            "id": ENV_ID,
            "name": env.name,
            "url": display_url(env.url),
            **dict.fromkeys(self.columns, ""),
            "auth": "bearer" if env.bearer_token else ("basic" if in_url else "none"),
            "username": "",
            "has_secret": bool(env.bearer_token) or in_url,
            "timeout_s": env.timeout_s,
            "is_default": False,
            "enabled": True,
            "source": "environment",
        }

    async def all_public(self, session: AsyncSession) -> list[dict[str, Any]]:
        """The environment's connection (when set) first, then the stored ones by name."""
        stored = [self.public(row) for row in await self.records.all(session)]
        env = self.env_public()
        return ([env] if env is not None else []) + stored

    async def test(self, row_id: int, check: Callable[[Config], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
        """Test connection: `check(config)`'s {"ok": true, ...}, or {"ok": false, "error": ...}. The
        database session is closed before the check, which may take up to the connection's timeout."""
        config = await self.records.to_test(
            row_id, env=self.env, env_unset=f"{self.env_setting} is not set", config_of=self.config_of
        )
        if isinstance(config, str):
            return {"ok": False, "error": config}
        try:
            return await check(config)
        except RemoteError as exc:
            return {"ok": False, "error": str(exc)}

    def pick(self, rows: Sequence[Any], matches: Callable[[str], bool]) -> Config | None:
        """The enabled connection whose URL `matches`, else the default: the stored one marked
        default, else the environment's, else the only one (None: none fits). Raises
        DecryptionError when the chosen one's credential cannot be read."""
        enabled = [row for row in rows if row.enabled]
        env = self.env()
        for row in enabled:
            if any(matches(url) for url in (row.url, *(getattr(row, c) for c in self.alias_urls)) if url):
                return self.config_of(row)
        if env is not None and matches(env.url):
            return env
        default = next((row for row in enabled if row.is_default), None)
        if default is not None:
            return self.config_of(default)
        if env is not None:
            return env
        return self.config_of(enabled[0]) if len(enabled) == 1 else None
