"""Datasources: those an admin stored (the credential encrypted, write-only) and `PROMETHEUS_URL`.

An alert is matched to a datasource by the host of its `generatorURL` (the Prometheus that fired it),
else the default one (the stored one marked default, else the environment's, else the only one).
"""

from __future__ import annotations

import contextlib
import ipaddress
import math
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.crypto import decrypt, encrypt, record_name
from remediation_app.models import Datasource, User, utcnow
from remediation_app.services.investigation.prometheus import (
    DatasourceConfig,
    DatasourceError,
    PrometheusClient,
    display_url,
)
from remediation_app.services.investigation.promql import datasource_host
from remediation_app.services.records import ENV_ID, FieldError, Records, check_secret
from remediation_app.settings import get_settings

ENV_DATASOURCE_ID = ENV_ID
ENV_DATASOURCE_NAME = "environment"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}$")
AUTH_KINDS = ("none", "bearer", "basic")
MAX_SECRET = 4096


class DatasourceInputError(FieldError):
    """A datasource that cannot be saved; names the field."""


@dataclass
class DatasourceInput:
    """A form's fields. secret: None keeps the stored one, "" removes it, text replaces it."""

    name: str
    url: str
    auth: str = "none"
    username: str = ""
    secret: str | None = None
    timeout_s: float = 5.0
    is_default: bool = False
    enabled: bool = True


def _validate(data: DatasourceInput) -> None:
    if not NAME_RE.match(data.name):
        raise DatasourceInputError("name", "1-100 letters, digits, spaces, '.', '_' or '-'")
    if data.name.strip().lower() == ENV_DATASOURCE_NAME:
        raise DatasourceInputError("name", f"{ENV_DATASOURCE_NAME!r} is the datasource from PROMETHEUS_URL")
    if len(data.url) > 1024:
        raise DatasourceInputError("url", "at most 1024 characters")
    try:
        parts = urlsplit(data.url)
    except ValueError:
        raise DatasourceInputError("url", "not a URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in data.url):
        raise DatasourceInputError("url", "an http:// or https:// URL such as http://prometheus:9090")
    if parts.username or parts.password:
        raise DatasourceInputError("url", "put credentials in the authentication fields, not in the URL")
    if data.auth not in AUTH_KINDS:
        raise DatasourceInputError("auth", "one of " + ", ".join(AUTH_KINDS))
    if data.auth == "basic" and not data.username:
        raise DatasourceInputError("username", "basic authentication needs a user name")
    if len(data.username) > 255 or any(ord(c) < 0x20 or c == ":" for c in data.username):
        raise DatasourceInputError("username", "at most 255 characters, no ':' or control characters")
    check_secret(DatasourceInputError, "secret", data.secret, MAX_SECRET)
    if not (math.isfinite(data.timeout_s) and 0.5 <= data.timeout_s <= 60):
        raise DatasourceInputError("timeout_s", "between 0.5 and 60 seconds")


def env_datasource() -> DatasourceConfig | None:
    settings = get_settings()
    if not settings.prometheus_url:
        return None
    token = settings.prometheus_bearer_token
    return DatasourceConfig(
        name=ENV_DATASOURCE_NAME,
        url=settings.prometheus_url,
        bearer_token=token.get_secret_value() if token else "",
        timeout_s=settings.prometheus_timeout_seconds,
    )


def _record(row: Datasource) -> str:
    return record_name(Datasource.__tablename__, row.id, f"datasource {row.name!r} credential")


def config_of(row: Datasource) -> DatasourceConfig:
    """The query configuration (decrypts the credential: DecryptionError names the record)."""
    secret = decrypt(row.secret_ciphertext, record=_record(row)) if row.secret_ciphertext else ""
    return DatasourceConfig(
        name=row.name,
        url=row.url,
        bearer_token=secret if row.auth == "bearer" else "",
        username=row.username if row.auth == "basic" else "",
        password=secret if row.auth == "basic" else "",
        timeout_s=row.timeout_s,
    )


DATASOURCES = Records(Datasource, "datasource", DatasourceInputError, action="datasource")


async def list_datasources(session: AsyncSession) -> list[Datasource]:
    return await DATASOURCES.all(session)


def _host(url: str) -> str | None:
    try:
        parts = urlsplit(url.rpartition("@")[2] if "://" not in url else url)
        host = parts.hostname
        port = parts.port
    except ValueError:
        return None
    if not host:
        return None
    return f"{host.lower()}:{port}" if port else host.lower()


def _host_port(host: str) -> tuple[str, int | None]:
    """`host[:port]` as datasource_host writes it ("prom:9090", "[::1]:9090", "prom") split."""
    parts = urlsplit(f"//{host}")
    name = parts.hostname or ""
    with contextlib.suppress(ValueError):  # an address in its one canonical form: [0:0::1] is [::1]
        name = ipaddress.ip_address(name).compressed
    return name, parts.port


def _same_host(generator_host: str, url: str) -> bool:
    """Whether the datasource at `url` is the one named by `generator_host` (datasource_host's form,
    default ports left out, IPv6 in brackets). A side without a port matches on the host alone."""
    mine = datasource_host(url)
    if mine is None:
        return False
    (host, port), (their_host, their_port) = _host_port(mine), _host_port(generator_host)
    return host == their_host and (port is None or their_port is None or port == their_port)


async def for_alert(session: AsyncSession, generator_url: str) -> DatasourceConfig | None:
    """The datasource to consult for an alert (None: none configured). Raises DecryptionError when
    the matching one's credential cannot be read (the caller records it as evidence)."""
    rows = [r for r in await list_datasources(session) if r.enabled]
    env = env_datasource()
    host = datasource_host(generator_url) if generator_url else None
    if host:
        host = host.lower()
        for row in rows:
            if _same_host(host, row.url):
                return config_of(row)
        if env is not None and _same_host(host, env.url):
            return env
    default = next((r for r in rows if r.is_default), None)
    if default is not None:
        return config_of(default)
    if env is not None:
        return env
    return config_of(rows[0]) if len(rows) == 1 else None


async def save_datasource(
    session: AsyncSession, data: DatasourceInput, *, datasource_id: int | None, actor: User, address: str = ""
) -> Datasource:
    """Create (datasource_id None) or update a datasource, audited (never the secret). The caller commits."""
    data.name, data.url, data.username = data.name.strip(), data.url.strip(), data.username.strip()
    _validate(data)
    if datasource_id is None:
        row = Datasource(name=data.name, url=data.url, created_at=utcnow())
    else:
        row = await DATASOURCES.stored(session, datasource_id)
    await DATASOURCES.check_name(session, data.name, datasource_id)
    moved = datasource_id is not None and _host(row.url) != _host(data.url)
    if moved and data.secret is None and row.secret_ciphertext:
        # Otherwise an admin (or a stolen admin session) could send the write-only credential elsewhere.
        raise DatasourceInputError("secret", "the URL's host changed: enter the credential again")
    credential_change = "kept"
    if data.auth == "none":
        credential_change = "removed" if row.secret_ciphertext else "kept"
        row.secret_ciphertext = ""
    elif data.secret is not None:
        row.secret_ciphertext = encrypt(data.secret) if data.secret else ""
        credential_change = "set" if data.secret else "removed"
    if data.auth == "bearer" and not row.secret_ciphertext:
        raise DatasourceInputError("secret", "bearer authentication needs a token")
    row.name, row.url, row.auth, row.username = data.name, data.url, data.auth, data.username
    row.timeout_s, row.enabled = data.timeout_s, data.enabled
    row.is_default = data.is_default and data.enabled
    row.updated_at, row.updated_by = utcnow(), actor.username
    await DATASOURCES.only_default(session, row)
    session.add(row)
    await session.flush()
    details = {**{k: v for k, v in datasource_public(row).items() if k != "source"}, "auth_change": credential_change}
    DATASOURCES.audit_saved(session, row, created=datasource_id is None, actor=actor, address=address, details=details)
    return row


async def delete_datasource(session: AsyncSession, datasource_id: int, *, actor: User, address: str = "") -> None:
    await DATASOURCES.delete(session, datasource_id, actor=actor, address=address)


def datasource_public(row: Datasource) -> dict[str, Any]:
    """The browser's view: never the credential, only whether one is stored."""
    return {
        "id": row.id,
        "name": row.name,
        "url": display_url(row.url),
        "auth": row.auth,
        "username": row.username,
        "has_secret": bool(row.secret_ciphertext),
        "timeout_s": row.timeout_s,
        "is_default": row.is_default,
        "enabled": row.enabled,
        "source": "database",
    }


def env_datasource_public() -> dict[str, Any] | None:
    env = env_datasource()
    if env is None:
        return None
    in_url = _host(env.url) is not None and "@" in urlsplit(env.url).netloc
    return {
        "id": ENV_DATASOURCE_ID,
        "name": env.name,
        "url": display_url(env.url),
        "auth": "bearer" if env.bearer_token else ("basic" if in_url else "none"),
        "username": "",
        "has_secret": bool(env.bearer_token) or in_url,
        "timeout_s": env.timeout_s,
        "is_default": False,
        "enabled": True,
        "source": "environment",
    }


async def datasources_public(session: AsyncSession) -> list[dict[str, Any]]:
    stored = [datasource_public(r) for r in await list_datasources(session)]
    env = env_datasource_public()
    return ([env] if env is not None else []) + stored


async def datasource_test(datasource_id: int) -> dict[str, Any]:
    """ "Test connection": {"ok": true, "version": ...} or {"ok": false, "error": ...}. The database
    session is closed before the query, which may take up to the datasource's timeout."""
    config = await DATASOURCES.to_test(
        datasource_id, env=env_datasource, env_unset="PROMETHEUS_URL is not set", config_of=config_of
    )
    if isinstance(config, str):
        return {"ok": False, "error": config}
    try:
        async with PrometheusClient(config) as client:
            version = await client.check()
    except DatasourceError as exc:
        return {"ok": False, "error": str(exc)}
    return {"ok": True, "version": version}
