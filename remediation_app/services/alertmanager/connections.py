"""Alertmanager connections: those an admin stored (the credential encrypted, write-only) and
`ALERTMANAGER_URL` (read-only, named "environment"), with Test connection (GET /api/v2/status).

An alert is matched to the Alertmanager it came from by its notification's externalURL: the
connection whose `external_url` or `url` has the same scheme, host and port and a path that
starts the externalURL's path; else the default one (the stored one marked default, else the
environment's, else the only one).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.models import AlertmanagerConn, Silence
from remediation_app.services.alertmanager.client import AlertmanagerClient, AlertmanagerConfig
from remediation_app.services.connections import ENV_NAME, ConnectionInput, ConnectionKind, from_environment
from remediation_app.services.records import FieldError, Records
from remediation_app.settings import get_settings

URL_EXAMPLE = "http://alertmanager:9093"
_DEFAULT_PORTS = {"http": 80, "https": 443}


class AlertmanagerInputError(FieldError):
    """An Alertmanager connection that cannot be saved; names the field."""


@dataclass
class AlertmanagerInput(ConnectionInput):
    """The form's fields, and the URL Alertmanager advertises in its notifications when it differs
    from `url` (its --web.external-url, e.g. behind a proxy): "" when they are the same."""

    external_url: str = ""


def env_alertmanager() -> AlertmanagerConfig | None:
    settings = get_settings()
    url, token = settings.alertmanager_url, settings.alertmanager_bearer_token
    return from_environment(AlertmanagerConfig, url, token, settings.alertmanager_timeout_seconds)


ALERTMANAGERS = Records(AlertmanagerConn, "alertmanager", AlertmanagerInputError, action="alertmanager")


async def _renamed(session: AsyncSession, old: str, new: str) -> None:
    """Silences and acks name their connection: they follow a rename (else they could no longer be
    expired, by a person or by the engine when an acked alert resolves)."""
    table = Silence.__table__  # type: ignore[attr-defined]
    await session.exec(sa.update(table).where(table.c.alertmanager == old).values(alertmanager=new))


KIND: ConnectionKind[AlertmanagerConn, AlertmanagerConfig] = ConnectionKind(
    ALERTMANAGERS,
    env_setting="ALERTMANAGER_URL",
    url_example=URL_EXAMPLE,
    config=AlertmanagerConfig,
    env=env_alertmanager,
    columns=("external_url",),
    alias_urls=("external_url",),
    input=AlertmanagerInput,
    renamed=_renamed,
)


def _place(url: str) -> tuple[str, str, int | None, str] | None:
    """(scheme, host, port, path with a trailing "/") of a URL, the default port filled in."""
    try:
        parts = urlsplit(url.strip())
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not host:
        return None
    try:
        host = ipaddress.ip_address(host).compressed
    except ValueError:
        host = host.lower()
    path = parts.path if parts.path.endswith("/") else parts.path + "/"
    return parts.scheme, host, port or _DEFAULT_PORTS[parts.scheme], path


def same_alertmanager(external_url: str, url: str) -> bool:
    """Whether a notification's externalURL names the Alertmanager at `url`: the same scheme, host
    and port, and `url`'s path a prefix of the externalURL's (http://am:9093/ names http://am:9093)."""
    theirs, mine = _place(external_url), _place(url)
    return theirs is not None and mine is not None and theirs[:3] == mine[:3] and theirs[3].startswith(mine[3])


async def list_alertmanagers(session: AsyncSession) -> list[AlertmanagerConn]:
    return await ALERTMANAGERS.all(session)


def pick(rows: list[AlertmanagerConn], external_url: str) -> AlertmanagerConfig | None:
    """Among the stored `rows` and the environment's: the Alertmanager a notification's externalURL
    names, else the default; None when none is configured. Raises DecryptionError when its
    credential cannot be read."""
    return KIND.pick(rows, lambda url: bool(external_url) and same_alertmanager(external_url, url))


async def for_external_url(session: AsyncSession, external_url: str) -> AlertmanagerConfig | None:
    """The Alertmanager an alert came from (by its notification's externalURL), else the default."""
    return pick(await list_alertmanagers(session), external_url)


async def by_name(session: AsyncSession, name: str) -> AlertmanagerConfig | None:
    """The connection a silence was made through (its name; "environment" for ALERTMANAGER_URL)."""
    if name == ENV_NAME:
        return env_alertmanager()
    row = next((r for r in await list_alertmanagers(session) if r.name == name), None)
    return KIND.config_of(row) if row is not None else None


async def enabled_alertmanagers(session: AsyncSession) -> list[AlertmanagerConfig]:
    """Every connection the sync loop reads: the environment's and the enabled stored ones."""
    env = env_alertmanager()
    stored = [KIND.config_of(row) for row in await list_alertmanagers(session) if row.enabled]
    return ([env] if env is not None else []) + stored


async def _check(config: AlertmanagerConfig) -> dict[str, Any]:
    async with AlertmanagerClient(config) as client:
        status = await client.status()
    return {"ok": True, "version": status.version, "cluster": status.cluster}


async def alertmanager_test(alertmanager_id: int) -> dict[str, Any]:
    """Test connection: {"ok": true, "version": ..., "cluster": ...} or {"ok": false, "error": ...}."""
    return await KIND.test(alertmanager_id, _check)
