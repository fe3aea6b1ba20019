"""Datasources: those an admin stored (the credential encrypted, write-only) and `PROMETHEUS_URL`.

An alert is matched to a datasource by the host of its `generatorURL` (the Prometheus that fired it),
else the default one (the stored one marked default, else the environment's, else the only one).
"""

from __future__ import annotations

import contextlib
import ipaddress
from typing import Any
from urllib.parse import urlsplit

from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.models import Datasource, User
from remediation_app.services.connections import (
    AUTH_KINDS,
    MAX_SECRET,
    NAME_RE,
    ConnectionInput,
    ConnectionKind,
    from_environment,
)
from remediation_app.services.investigation.prometheus import DatasourceConfig, PrometheusClient
from remediation_app.services.investigation.promql import datasource_host
from remediation_app.services.records import FieldError, Records
from remediation_app.settings import get_settings

__all__ = ["AUTH_KINDS", "MAX_SECRET", "NAME_RE"]

DatasourceInput = ConnectionInput


class DatasourceInputError(FieldError):
    """A datasource that cannot be saved; names the field."""


def env_datasource() -> DatasourceConfig | None:
    settings = get_settings()
    return from_environment(
        DatasourceConfig, settings.prometheus_url, settings.prometheus_bearer_token, settings.prometheus_timeout_seconds
    )


DATASOURCES = Records(Datasource, "datasource", DatasourceInputError, action="datasource")
KIND: ConnectionKind[Datasource, DatasourceConfig] = ConnectionKind(
    DATASOURCES,
    env_setting="PROMETHEUS_URL",
    url_example="http://prometheus:9090",
    config=DatasourceConfig,
    env=env_datasource,
)


def config_of(row: Datasource) -> DatasourceConfig:
    """The query configuration (decrypts the credential: DecryptionError names the record)."""
    return KIND.config_of(row)


async def list_datasources(session: AsyncSession) -> list[Datasource]:
    return await DATASOURCES.all(session)


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
    """The datasource to consult for an alert (None: none configured): the one on the host of its
    generatorURL, else the default. Raises DecryptionError when the chosen one's credential cannot
    be read (the caller records it as evidence)."""
    host = datasource_host(generator_url) if generator_url else None
    wanted = host.lower() if host else None
    return KIND.pick(await list_datasources(session), lambda url: wanted is not None and _same_host(wanted, url))


async def save_datasource(
    session: AsyncSession, data: DatasourceInput, *, datasource_id: int | None, actor: User, address: str = ""
) -> Datasource:
    """Create (datasource_id None) or update a datasource, audited (never the secret). The caller commits."""
    row: Datasource = await KIND.save(session, data, row_id=datasource_id, actor=actor, address=address)
    return row


async def _check(config: DatasourceConfig) -> dict[str, Any]:
    async with PrometheusClient(config) as client:
        return {"ok": True, "version": await client.check()}


async def datasource_test(datasource_id: int) -> dict[str, Any]:
    """ "Test connection": {"ok": true, "version": ...} or {"ok": false, "error": ...}."""
    return await KIND.test(datasource_id, _check)
