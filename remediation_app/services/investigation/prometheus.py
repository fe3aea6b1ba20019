"""One Prometheus-compatible datasource (Prometheus, Thanos, Mimir, VictoriaMetrics) over its HTTP API:
instant and range queries and a connection check, every one of them bounded.

The bounds have defaults below and can be changed per client (`Limits`): a whole request (connect,
answer, body) is cut at the datasource's timeout, the body at MAX_RESPONSE_BYTES, a result at
MAX_SERIES series of MAX_POINTS points, a range at MAX_RANGE_S. Every failure is a `DatasourceError`:
a short message naming the datasource, never its credentials, fit to show a user and to give a model.
"""

from __future__ import annotations

import asyncio
import base64
import errno
import functools
import logging
import math
import socket
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal, TypeVar
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx

from remediation_app.services.investigation.prometheus_answer import (
    ERROR_TEXT_MAX,
    DatasourceError,
    QueryResult,
    Series,
    decode_answer,
    decode_query,
)

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "MAX_POINTS",
    "MAX_QUERY_CHARS",
    "MAX_RANGE_S",
    "MAX_RESPONSE_BYTES",
    "MAX_SERIES",
    "PARSE_IN_THREAD_BYTES",
    "DatasourceConfig",
    "DatasourceError",
    "Limits",
    "PrometheusClient",
    "QueryResult",
    "Series",
    "display_url",
]

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 15.0
MAX_RESPONSE_BYTES = 8 * 1024 * 1024
MAX_SERIES = 20
MAX_POINTS = 500
MAX_RANGE_S = 24 * 3600.0
MAX_QUERY_CHARS = 2000
# Above this size a body is parsed in a worker thread, one JSON value at a time (prometheus_answer._Scanner).
PARSE_IN_THREAD_BYTES = 256 * 1024

_USER_AGENT = "remediation-engine"
# Shorter secrets are not masked in messages: masking "ab" would mangle ordinary words.
_SECRET_MIN = 4

Timestamp = datetime | float
T = TypeVar("T")


@dataclass(frozen=True)
class DatasourceConfig:
    """Where a datasource is and how to log in. A bearer token wins over a user and password; a
    user and password inside `url` (http://user:pass@host) are used when none are given apart."""

    name: str
    url: str
    bearer_token: str = ""
    username: str = ""
    password: str = ""
    timeout_s: float = DEFAULT_TIMEOUT_S
    verify_tls: bool = True
    # Extra request headers, e.g. X-Scope-OrgID for a Mimir tenant.
    headers: Mapping[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:  # never print credentials
        return f"DatasourceConfig(name={self.name!r}, url={display_url(self.url)!r})"


@dataclass(frozen=True)
class Limits:
    response_bytes: int = MAX_RESPONSE_BYTES
    series: int = MAX_SERIES
    points: int = MAX_POINTS
    range_s: float = MAX_RANGE_S
    query_chars: int = MAX_QUERY_CHARS
    parse_in_thread_bytes: int = PARSE_IN_THREAD_BYTES


@functools.cache
def _tls_context(verify: bool) -> ssl.SSLContext:
    """One TLS context per process: building one loads the CA bundle (~40 ms of CPU on the event
    loop), which a new client per analysis would pay every time, even for plain http://."""
    return httpx.create_ssl_context(verify=verify)


def display_url(url: str) -> str:
    """`url` fit to show: no user, password, query string or fragment."""
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. a broken IPv6 address
        return "(invalid URL)"
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _seconds(value: Timestamp) -> float:
    """Unix seconds; a naive datetime is taken as UTC, like every time the engine stores."""
    if isinstance(value, datetime):
        return (value.replace(tzinfo=UTC) if value.tzinfo is None else value).timestamp()
    return float(value)


def _number(value: float) -> str:
    """A time or step as the API reads it (Go's ParseFloat), to the millisecond."""
    return f"{value:.3f}".rstrip("0").rstrip(".")


def _connect_reason(exc: BaseException) -> str:
    """Why connecting failed, from the OS error under httpx's ("All connection attempts failed")."""
    causes: list[BaseException] = []
    cause: BaseException | None = exc
    while cause is not None and len(causes) < 10:
        causes.append(cause)
        cause = cause.__cause__ or cause.__context__
    for cause in causes:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return "TLS certificate not trusted"
        if isinstance(cause, socket.gaierror):
            return "host name not found"
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused (is it running, is the port right?)"
        if isinstance(cause, OSError) and cause.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
            return "host or network unreachable"
        if isinstance(cause, ssl.SSLError):
            return "TLS handshake failed"
    return "cannot connect"


class PrometheusClient:
    """One datasource; `async with PrometheusClient(config) as prom:` closes its connections."""

    def __init__(self, config: DatasourceConfig, *, limits: Limits | None = None) -> None:
        self.config = config
        self.limits = limits or Limits()
        self.display_url = display_url(config.url)
        try:
            parts = urlsplit(config.url)
        except ValueError:
            parts = urlsplit("")
        username = config.username or unquote(parts.username or "")
        password = config.password or unquote(parts.password or "")
        self._secrets = self._secret_texts(parts.password or "", username, password)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise self._named(DatasourceError("the URL must look like http(s)://host[:port][/path]", kind="invalid"))
        if not config.timeout_s > 0:
            raise self._named(DatasourceError("the timeout must be a positive number of seconds", kind="invalid"))
        headers = {"Accept": "application/json", "User-Agent": _USER_AGENT, **config.headers}
        auth: httpx.BasicAuth | None = None
        if config.bearer_token:
            headers["Authorization"] = f"Bearer {config.bearer_token}"
        elif username or password:
            auth = httpx.BasicAuth(username, password)
        self._http = httpx.AsyncClient(
            base_url=urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", "")),
            auth=auth,
            headers=headers,
            timeout=config.timeout_s,
            verify=_tls_context(config.verify_tls),
            follow_redirects=False,
        )

    def _secret_texts(self, raw_password: str, username: str, password: str) -> list[str]:
        """Everything a server could echo back that must not reach a message: the token, the
        password (as given and as written in the URL), the Basic header, extra header values."""
        texts = [self.config.bearer_token, password, raw_password, *self.config.headers.values()]
        if username or password:
            texts.append(base64.b64encode(f"{username}:{password}".encode()).decode())
        return sorted({t for t in texts if len(t) >= _SECRET_MIN}, key=len, reverse=True)

    async def __aenter__(self) -> PrometheusClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def instant(self, query: str, time: Timestamp | None = None) -> QueryResult:
        """`query` evaluated at `time` (now when None): /api/v1/query."""
        self._check_query(query)
        params = {"query": query}
        if time is not None:
            params["time"] = _number(_seconds(time))
        return await self._query("api/v1/query", params)

    async def range(
        self, query: str, start: Timestamp, end: Timestamp, step: float | timedelta | None = None
    ) -> QueryResult:
        """`query` from `start` to `end`: /api/v1/query_range. The step is `step` or, when that would
        give more than `limits.points` points (or when None), the smallest whole number of seconds
        that does not; `result.step_s` says which was used. Ranges over `limits.range_s` are refused."""
        self._check_query(query)
        first, last = _seconds(start), _seconds(end)
        if last < first:
            raise self._named(DatasourceError("the range ends before it starts", kind="invalid"))
        if last - first > self.limits.range_s:
            hours = self.limits.range_s / 3600
            raise self._named(DatasourceError(f"ranges longer than {hours:g} h are refused", kind="invalid"))
        asked = step.total_seconds() if isinstance(step, timedelta) else step
        if asked is not None and not asked > 0:
            raise self._named(DatasourceError("the step must be a positive number of seconds", kind="invalid"))
        smallest = max(1.0, math.ceil((last - first) / max(1, self.limits.points - 1)))
        used = smallest if asked is None or asked < smallest else asked
        params = {"query": query, "start": _number(first), "end": _number(last), "step": _number(used)}
        result = await self._query("api/v1/query_range", params)
        result.step_s = used
        if asked is not None and used != asked:
            result.warnings.append(
                f"step raised from {asked:g}s to {used:g}s to keep at most {self.limits.points} points"
            )
        return result

    async def check(self) -> str:
        """Test the connection: the version from /api/v1/status/buildinfo, or "unknown" when the
        datasource has no build information but answers the query `1`."""
        try:
            answer = await self._request("GET", "api/v1/status/buildinfo", {}, decode_answer)
        except DatasourceError as exc:
            if exc.kind not in ("http", "not_json", "query"):
                raise
        else:
            version = answer.data.get("version") if isinstance(answer.data, dict) else None
            if isinstance(version, str) and version:
                return version[:ERROR_TEXT_MAX]
        await self.instant("1")
        return "unknown"

    def _check_query(self, query: str) -> None:
        if not query.strip():
            raise self._named(DatasourceError("the query is empty", kind="invalid"))
        if len(query) > self.limits.query_chars:
            raise self._named(
                DatasourceError(
                    f"the query is {len(query)} characters long; at most {self.limits.query_chars} are allowed",
                    kind="invalid",
                )
            )

    async def _query(self, path: str, params: dict[str, str]) -> QueryResult:
        limits = self.limits

        def decode(status: int, body: bytes) -> QueryResult:
            return decode_query(status, body, max_series=limits.series, max_points=limits.points)

        return await self._request("POST", path, params, decode)

    async def _request(
        self, method: Literal["GET", "POST"], path: str, params: dict[str, str], decode: Callable[[int, bytes], T]
    ) -> T:
        """One call within the timeout, from connecting to the last byte of the body; POST is retried
        as GET when refused with 405 (some read-only proxies in front of Prometheus)."""
        timeout = self.config.timeout_s
        try:
            async with asyncio.timeout(timeout):
                status, body = await self._fetch(method, path, params)
                if status == 405 and method == "POST":
                    status, body = await self._fetch("GET", path, params)
        except (TimeoutError, httpx.TimeoutException):
            raise self._named(DatasourceError(f"no complete answer within {timeout:g} s", kind="timeout")) from None
        except httpx.ConnectError as exc:
            raise self._named(DatasourceError(_connect_reason(exc), kind="unreachable")) from None
        except (httpx.NetworkError, httpx.RemoteProtocolError):
            detail = "the connection broke before a complete answer"
            raise self._named(DatasourceError(detail, kind="unreachable")) from None
        except httpx.DecodingError:
            raise self._named(DatasourceError("the answer's encoding is broken", kind="not_json")) from None
        except httpx.HTTPError as exc:
            detail = f"request failed ({type(exc).__name__})"
            raise self._named(DatasourceError(detail, kind="unreachable")) from None
        except DatasourceError as exc:
            raise self._named(exc) from None
        try:
            if len(body) > self.limits.parse_in_thread_bytes:
                return await asyncio.to_thread(decode, status, body)
            return decode(status, body)
        except DatasourceError as exc:
            raise self._named(exc) from None

    async def _fetch(self, method: str, path: str, params: dict[str, str]) -> tuple[int, bytes]:
        """The status and the body, read as a stream and abandoned past `limits.response_bytes`."""
        cap = self.limits.response_bytes
        too_large = DatasourceError(
            f"the answer is larger than {cap / 1048576:g} MB; narrow the query", kind="too_large"
        )
        post = method == "POST"
        async with self._http.stream(
            method, path, data=params if post else None, params=None if post else params
        ) as response:
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > cap and "content-encoding" not in response.headers:
                raise too_large
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > cap:
                    raise too_large
                chunks.append(chunk)
            return response.status_code, b"".join(chunks)

    def _named(self, error: DatasourceError) -> DatasourceError:
        """The error as users and the model see it: which datasource, credentials masked; logged."""
        text = error.detail
        for secret in self._secrets:
            text = text.replace(secret, "***")
        named = DatasourceError(
            f"datasource {self.config.name!r} at {self.display_url}: {text}",
            kind=error.kind,
            status=error.status,
            error_type=error.error_type,
        )
        named.detail = text
        # A refused or failed query is the asker's doing (often the model's); the rest is the datasource's.
        log.log(
            logging.INFO if error.kind in ("invalid", "query") else logging.WARNING,
            "datasource call failed",
            extra={"datasource": self.config.name, "url": self.display_url, "kind": error.kind, "error": text},
        )
        return named
