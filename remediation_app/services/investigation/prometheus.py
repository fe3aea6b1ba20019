"""One Prometheus-compatible datasource (Prometheus, Thanos, Mimir, VictoriaMetrics) over its HTTP API:
instant and range queries and a connection check, every one of them bounded.

The bounds have defaults below and can be changed per client (`Limits`): a whole request (connect,
answer, body) is cut at the datasource's timeout, the body at MAX_RESPONSE_BYTES, a result at
MAX_SERIES series of MAX_POINTS points, a range at MAX_RANGE_S. Every failure is a `DatasourceError`:
a short message naming the datasource, never its credentials, fit to show a user and to give a model.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, TypeVar

from remediation_app.services.bounded_http import BoundedHttp, Endpoint, display_url
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

DEFAULT_TIMEOUT_S = 15.0
MAX_RESPONSE_BYTES = 8 * 1024 * 1024
MAX_SERIES = 20
MAX_POINTS = 500
MAX_RANGE_S = 24 * 3600.0
MAX_QUERY_CHARS = 2000
# Above this size a body is parsed in a worker thread, one JSON value at a time (bounded_http.JsonScanner).
PARSE_IN_THREAD_BYTES = 256 * 1024

Timestamp = datetime | float
T = TypeVar("T")


@dataclass(frozen=True, repr=False)
class DatasourceConfig(Endpoint):
    """Where a datasource is and how to log in (Endpoint's fields, DEFAULT_TIMEOUT_S by default)."""

    timeout_s: float = DEFAULT_TIMEOUT_S


@dataclass(frozen=True)
class Limits:
    response_bytes: int = MAX_RESPONSE_BYTES
    series: int = MAX_SERIES
    points: int = MAX_POINTS
    range_s: float = MAX_RANGE_S
    query_chars: int = MAX_QUERY_CHARS
    parse_in_thread_bytes: int = PARSE_IN_THREAD_BYTES


def _seconds(value: Timestamp) -> float:
    """Unix seconds; a naive datetime is taken as UTC, like every time the engine stores."""
    if isinstance(value, datetime):
        return (value.replace(tzinfo=UTC) if value.tzinfo is None else value).timestamp()
    return float(value)


def _number(value: float) -> str:
    """A time or step as the API reads it (Go's ParseFloat), to the millisecond."""
    return f"{value:.3f}".rstrip("0").rstrip(".")


class PrometheusClient(BoundedHttp):
    """One datasource; `async with PrometheusClient(config) as prom:` closes its connections."""

    noun = "datasource"
    error = DatasourceError
    too_large_hint = "; narrow the query"
    # A refused or failed query is the asker's doing (often the model's); the rest is the datasource's.
    askers_kinds = ("invalid", "query")

    def __init__(self, config: DatasourceConfig, *, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        super().__init__(
            config, response_bytes=self.limits.response_bytes, parse_in_thread_bytes=self.limits.parse_in_thread_bytes
        )

    async def __aenter__(self) -> PrometheusClient:
        return self

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

        async def attempt() -> tuple[int, bytes]:
            status, body = await self._fetch_params(method, path, params)
            if status == 405 and method == "POST":
                status, body = await self._fetch_params("GET", path, params)
            return status, body

        status, body = await self._exchange(attempt)
        return await self._decode(decode, status, body)

    async def _fetch_params(self, method: str, path: str, params: dict[str, str]) -> tuple[int, bytes]:
        post = method == "POST"
        return await self._fetch(method, path, data=params if post else None, params=None if post else params)
