"""What a Prometheus-compatible API answered, read into plain data: the series kept (at most N, of at
most M points each, saying how many were dropped), the result type and the warnings; or the
`DatasourceError` the answer means. Pure functions of the bytes, so a large body can be read in a
worker thread. Label values are kept as the datasource sent them: they are data, never instructions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from remediation_app.services.bounded_http import ERROR_TEXT_MAX, ErrorKind, JsonScanner, RemoteError
from remediation_app.services.bounded_http import short_text as _short

__all__ = ["ERROR_TEXT_MAX", "WARNINGS_MAX", "DatasourceError", "ErrorKind", "QueryResult", "Series"]

# Warnings taken from one answer (a datasource can send thousands).
WARNINGS_MAX = 10


class DatasourceError(RemoteError):
    """A failed datasource call (its kinds: RemoteError's). "invalid" is an empty or long query, a
    bad range or URL; "query" the API's own error, e.g. bad_data: `error_type` says which."""

    def __init__(self, message: str, *, kind: ErrorKind, status: int | None = None, error_type: str = "") -> None:
        super().__init__(message, kind=kind, status=status)
        self.error_type = error_type


@dataclass
class Series:
    """One series: its labels (`__name__` included when the datasource sends it) and its points as
    (unix seconds, value). A value may be NaN or +/-Inf (`math.isfinite` tells); `dropped_points`
    counts points thinned out to keep the series within the limit."""

    labels: dict[str, str]
    points: list[tuple[float, float]]
    dropped_points: int = 0


@dataclass
class QueryResult:
    """`result_type`: "vector" or "scalar" (instant), "matrix" (range, or an instant range selector),
    "string". `dropped_series`: series beyond the limit, not kept (the first ones, in the datasource's
    order, are kept). `step_s`: the step a range query used."""

    result_type: str
    series: list[Series]
    dropped_series: int = 0
    warnings: list[str] = field(default_factory=list)
    step_s: float | None = None


def _malformed(what: str) -> DatasourceError:
    return DatasourceError(f"unexpected answer: {what}", kind="not_json")


@dataclass
class Answer:
    """A successful answer: its `data` (with at most `keep_results` elements of data.result), its
    warnings, and how many elements data.result had."""

    data: Any
    warnings: list[str]
    results: int


def decode_answer(status: int, body: bytes, *, keep_results: int = 2) -> Answer:
    """A successful answer, or the error it means: auth, the API's own error (errorType and error),
    another HTTP status, not JSON."""
    if status in (401, 403):
        raise DatasourceError(
            f"authentication failed (HTTP {status}): check the credentials", kind="auth", status=status
        )
    read = _read_payload(body, keep_results)
    payload = read[0] if read else None
    if payload is not None and payload.get("status") == "error":
        error_type = _short(payload.get("errorType") or "error")
        error = _short(payload.get("error") or "no details")
        message = f"query failed (HTTP {status}, {error_type}): {error}"
        raise DatasourceError(message, kind="query", status=status, error_type=error_type)
    if not 200 <= status < 300:
        text = body[:ERROR_TEXT_MAX].decode("utf-8", "replace").strip()
        hint = " (a redirect: is this the API URL and not a login page?)" if 300 <= status < 400 else ""
        raise DatasourceError(
            f"HTTP {status}{hint}" + (f": {_short(text)}" if text else ""), kind="http", status=status
        )
    if read is None or payload is None:
        raise DatasourceError(
            "the answer is not a JSON object: is this the URL of a Prometheus-compatible API?",
            kind="not_json",
            status=status,
        )
    if payload.get("status") != "success" or "data" not in payload:
        raise _malformed('no status "success" with data')
    return Answer(payload["data"], _warnings(payload), read[1])


def _read_payload(body: bytes, keep: int) -> tuple[dict[str, Any], int] | None:
    """The answer's top-level object with the first `keep` elements of data.result, and how many it
    had; None when the body is not a JSON object."""
    try:
        scanner = JsonScanner(body.decode("utf-8"))
        payload: dict[str, Any] = {}
        total = 0
        for key in scanner.object_keys():
            if key != "data" or not scanner.peek("{"):
                payload[key] = scanner.value()
                continue
            data: dict[str, Any] = {}
            for name in scanner.object_keys():
                if name != "result" or not scanner.peek("["):
                    data[name] = scanner.value()
                    continue
                kept: list[Any] = []
                for _ in scanner.elements():
                    element = scanner.value()
                    total += 1
                    if len(kept) < keep:
                        kept.append(element)
                data[name] = kept
            payload[key] = data
        scanner.end()
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return None
    return payload, total


def _warnings(payload: dict[str, Any]) -> list[str]:
    texts: list[str] = []
    for key in ("warnings", "infos"):
        items = payload.get(key)
        if isinstance(items, list):
            texts.extend(_short(item) for item in items[:WARNINGS_MAX])
    return texts[:WARNINGS_MAX]


def decode_query(status: int, body: bytes, *, max_series: int, max_points: int) -> QueryResult:
    """A query's answer as a `QueryResult`, within the limits."""
    answer = decode_answer(status, body, keep_results=max(2, max_series))
    data, warnings = answer.data, answer.warnings
    if not isinstance(data, dict):
        raise _malformed("data is not an object")
    result_type, result = data.get("resultType"), data.get("result")
    if result_type == "scalar":
        return QueryResult("scalar", [Series({}, [_point(result)])], warnings=warnings)
    if result_type == "string":
        text = result[1] if isinstance(result, list) and len(result) == 2 else ""
        return QueryResult("string", [], warnings=[*warnings, f"string result: {_short(text)}"])
    if result_type not in ("vector", "matrix") or not isinstance(result, list):
        raise _malformed(f"result type {_short(result_type)!r}")
    kept = [_series(item, result_type, max_points) for item in result[:max_series]]
    dropped = answer.results - len(kept)
    if dropped:
        warnings.append(f"kept {len(kept)} of {answer.results} series ({dropped} dropped); narrow the query")
    thinned = sum(1 for series in kept if series.dropped_points)
    if thinned:
        warnings.append(f"{thinned} series had more than {max_points} points and were thinned to {max_points}")
    if any(_has_histograms(item) for item in result[:max_series]):
        warnings.append("native histogram samples are not supported and were left out")
    return QueryResult(result_type, kept, dropped_series=dropped, warnings=warnings)


def _series(item: Any, result_type: str, max_points: int) -> Series:
    if not isinstance(item, dict) or not isinstance(item.get("metric", {}), dict):
        raise _malformed("a series is not an object with labels")
    labels = {str(name): str(value) for name, value in item.get("metric", {}).items()}
    if result_type == "vector":
        raw = [item["value"]] if "value" in item else []
    else:
        raw = item.get("values", [])
        if not isinstance(raw, list):
            raise _malformed("a series' values are not a list")
    dropped = 0
    if len(raw) > max_points:
        # Evenly spaced, first and last kept: the shape of the curve survives, unlike a cut.
        last = len(raw) - 1
        raw = [raw[round(i * last / (max_points - 1))] for i in range(max_points)] if max_points > 1 else raw[-1:]
        dropped = last + 1 - len(raw)
    return Series(labels, [_point(sample) for sample in raw], dropped)


def _point(sample: Any) -> tuple[float, float]:
    """(time, value) from [1712345678.123, "0.5"]; "NaN", "+Inf" and "-Inf" become those floats."""
    if not isinstance(sample, list) or len(sample) != 2:
        raise _malformed("a sample is not [time, value]")
    try:
        return float(sample[0]), float(sample[1])
    except (TypeError, ValueError):
        raise _malformed(f"a sample's value is not a number: {_short(sample[1])!r}") from None


def _has_histograms(item: Any) -> bool:
    return isinstance(item, dict) and ("histogram" in item or "histograms" in item)
