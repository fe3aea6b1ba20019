"""One Alertmanager over its API v2: its status, its silences (list, create, expire) and its alerts.

Bounded like every outside call (services/bounded_http.py): one timeout per request, the body cut at
MAX_RESPONSE_BYTES, at most MAX_ITEMS silences or alerts read from one answer, a large answer
parsed in a worker thread one value at a time. Every failure is an `AlertmanagerError` whose
message names the Alertmanager and says what happened (unreachable, timeout, refused with its
status and Alertmanager's own words), never its credential.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import quote

from remediation_app.services.bounded_http import (
    ERROR_TEXT_MAX,
    BoundedHttp,
    Endpoint,
    JsonScanner,
    RemoteError,
    short_text,
)

DEFAULT_TIMEOUT_S = 5.0
MAX_RESPONSE_BYTES = 16 * 1024 * 1024
PARSE_IN_THREAD_BYTES = 256 * 1024
# Silences or alerts read from one answer; the rest are left out (and counted).
MAX_ITEMS = 20_000
T = TypeVar("T")
_NOT_AM = "is this the URL of an Alertmanager (its API v2)?"


class AlertmanagerError(RemoteError):
    """A failed Alertmanager call; `kind` as RemoteError's ("query": Alertmanager refused, `status`
    and its message in the text)."""


@dataclass(frozen=True, repr=False)
class AlertmanagerConfig(Endpoint):
    """Where an Alertmanager is and how to log in (Endpoint's fields)."""

    timeout_s: float = DEFAULT_TIMEOUT_S


@dataclass(frozen=True)
class AmStatus:
    version: str
    cluster: str  # "ready", "settling" or "disabled"


@dataclass(frozen=True)
class AmSilence:
    id: str
    state: str  # active, pending, expired
    matchers: list[dict[str, Any]]
    starts_at: datetime | None
    ends_at: datetime | None
    created_by: str
    comment: str


@dataclass(frozen=True)
class AmAlert:
    fingerprint: str
    state: str  # active, suppressed, unprocessed
    silenced_by: list[str]
    inhibited_by: list[str]
    labels: dict[str, str] = field(default_factory=dict)


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _strings(value: Any) -> list[str]:
    return [str(item)[:128] for item in value[:100]] if isinstance(value, list) else []


def _silence(item: Any) -> AmSilence | None:
    if not isinstance(item, dict) or not isinstance(item.get("id"), str):
        return None
    status = _obj(item.get("status"))
    given = item.get("matchers")
    matchers = [m for m in given if isinstance(m, dict)] if isinstance(given, list) else []
    return AmSilence(
        id=item["id"][:64],
        state=str(status.get("state", "")),
        matchers=matchers,
        starts_at=_time(item.get("startsAt")),
        ends_at=_time(item.get("endsAt")),
        created_by=str(item.get("createdBy", "")),
        comment=str(item.get("comment", "")),
    )


def _alert(item: Any) -> AmAlert | None:
    if not isinstance(item, dict) or not isinstance(item.get("fingerprint"), str):
        return None
    status = _obj(item.get("status"))
    labels = _obj(item.get("labels"))
    return AmAlert(
        fingerprint=item["fingerprint"][:128],
        state=str(status.get("state", ""))[:16],
        silenced_by=_strings(status.get("silencedBy")),
        inhibited_by=_strings(status.get("inhibitedBy")),
        labels={str(k): str(v) for k, v in labels.items()},
    )


def _refusal(status: int, body: bytes) -> AlertmanagerError:
    """What a status other than 2xx means, in Alertmanager's words: its body is a JSON string
    ("silence invalid: ...") or an object with a message."""
    if status in (401, 403):
        message = f"authentication failed (HTTP {status}): check the credentials"
        return AlertmanagerError(message, kind="auth", status=status)
    text = body[: ERROR_TEXT_MAX * 4].decode("utf-8", "replace").strip()
    try:
        said = json.loads(text)
    except ValueError:
        said = text
    if isinstance(said, dict):
        said = said.get("message") or said.get("error") or text
    hint = " (a redirect: is this the API URL and not a login page?)" if 300 <= status < 400 else ""
    message = f"refused (HTTP {status}){hint}" + (f": {short_text(said)}" if said else "")
    return AlertmanagerError(message, kind="query" if status < 500 else "http", status=status)


def _decode_list(convert: Callable[[Any], T | None]) -> Callable[[int, bytes], list[T]]:
    """A JSON array's elements converted (malformed ones skipped), at most MAX_ITEMS."""

    def decode(status: int, body: bytes) -> list[T]:
        if not 200 <= status < 300:
            raise _refusal(status, body)
        items: list[T] = []
        try:
            scanner = JsonScanner(body.decode("utf-8"))
            for _ in scanner.elements():
                converted = convert(scanner.value())
                if converted is not None and len(items) < MAX_ITEMS:
                    items.append(converted)
            scanner.end()
        except (ValueError, RecursionError):
            raise AlertmanagerError(f"the answer is not a JSON list: {_NOT_AM}", kind="not_json") from None
        return items

    return decode


def _decode_object(status: int, body: bytes) -> dict[str, Any]:
    if not 200 <= status < 300:
        raise _refusal(status, body)
    try:
        answer = json.loads(body) if body else {}
    except (ValueError, RecursionError):
        answer = None
    if not isinstance(answer, dict):
        raise AlertmanagerError(f"the answer is not a JSON object: {_NOT_AM}", kind="not_json")
    return answer


def _go_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class AlertmanagerClient(BoundedHttp):
    """One Alertmanager; `async with AlertmanagerClient(config) as am:` closes its connections."""

    noun = "Alertmanager"
    error = AlertmanagerError
    # A refusal (a matcher Alertmanager does not accept, an unknown silence) is the asker's doing.
    askers_kinds = ("invalid", "query")

    def __init__(self, config: Endpoint, *, quiet: bool = False) -> None:
        super().__init__(
            config, response_bytes=MAX_RESPONSE_BYTES, parse_in_thread_bytes=PARSE_IN_THREAD_BYTES, quiet=quiet
        )

    async def __aenter__(self) -> AlertmanagerClient:
        return self

    async def _call(self, method: str, path: str, decode: Callable[[int, bytes], T], **request: Any) -> T:
        async def attempt() -> tuple[int, bytes]:
            return await self._fetch(method, path, **request)

        status, body = await self._exchange(attempt)
        return await self._decode(decode, status, body)

    async def status(self) -> AmStatus:
        """Test connection: the version and the cluster's status from /api/v2/status."""
        answer = await self._call("GET", "api/v2/status", _decode_object)
        version_info = answer.get("versionInfo")
        cluster = answer.get("cluster")
        version = version_info.get("version") if isinstance(version_info, dict) else None
        state = cluster.get("status") if isinstance(cluster, dict) else None
        if not isinstance(version, str):
            raise self._named(AlertmanagerError(f"no versionInfo in /api/v2/status: {_NOT_AM}", kind="not_json"))
        return AmStatus(version=short_text(version), cluster=short_text(state or "unknown"))

    async def silences(self) -> list[AmSilence]:
        return await self._call("GET", "api/v2/silences", _decode_list(_silence))

    async def alerts(self) -> list[AmAlert]:
        """Every alert Alertmanager holds that has not resolved: active, silenced, inhibited, unprocessed."""
        return await self._call("GET", "api/v2/alerts", _decode_list(_alert))

    async def create_silence(
        self,
        matchers: Sequence[dict[str, Any]],
        *,
        starts_at: datetime,
        ends_at: datetime,
        created_by: str,
        comment: str,
    ) -> str:
        """Alertmanager's id of the new silence."""
        body = {
            "matchers": list(matchers),
            "startsAt": _go_time(starts_at),
            "endsAt": _go_time(ends_at),
            "createdBy": created_by,
            "comment": comment,
        }
        answer = await self._call("POST", "api/v2/silences", _decode_object, json=body)
        silence_id = answer.get("silenceID")
        if not isinstance(silence_id, str) or not silence_id:
            raise self._named(AlertmanagerError("no silenceID in the answer", kind="not_json"))
        return silence_id[:64]

    async def expire_silence(self, silence_id: str) -> None:
        """Expire a silence (an expired one stays expired). An id Alertmanager does not know is a
        refusal with status 404, whatever status Alertmanager answered it with (0.25: 500)."""
        try:
            await self._call("DELETE", f"api/v2/silence/{quote(silence_id, safe='')}", _decode_object)
        except AlertmanagerError as exc:
            if exc.status in (404, 422) or (exc.status == 500 and "not found" in exc.detail):
                exc.kind, exc.status = "query", 404
            raise
