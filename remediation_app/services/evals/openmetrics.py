"""Raw samples in the OpenMetrics (Prometheus text) format, as a case folder's `metrics.om` holds them:

    # TYPE node_filesystem_avail_bytes gauge
    node_filesystem_avail_bytes{instance="db-1:9100",mountpoint="/var"} 8.1e9 1736935200
    node_filesystem_avail_bytes{instance="db-1:9100",mountpoint="/var"} 7.9e9 1736935260
    # EOF

A timestamp is Unix seconds (read against the case's `now`); a sample without one is the series'
constant value. Each distinct metric and label set becomes one series of the case's `metrics`.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Any

MAX_LINES = 200_000
_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_LINE = re.compile(rf"^({_NAME})(\{{.*\}})?\s+(\S+)(?:\s+(\S+))?\s*$")
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(,|$)')
_ESCAPES = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}


def _labels(text: str, line_no: int) -> dict[str, str]:
    inner, labels, at = text[1:-1], {}, 0
    while at < len(inner):
        match = _LABEL.match(inner, at)
        if match is None:
            raise ValueError(f"line {line_no}: cannot read the labels {text[:200]!r}")
        labels[match.group(1)] = re.sub(r"\\[\\\"n]", lambda m: _ESCAPES[m.group(0)], match.group(2))
        at = match.end()
    return labels


def _number(text: str, line_no: int, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"line {line_no}: the {what} {text[:50]!r} is not a number") from None
    if what == "timestamp" and not math.isfinite(value):
        raise ValueError(f"line {line_no}: the timestamp is not finite")
    return value


def parse_openmetrics(text: str) -> list[dict[str, Any]]:
    """The series of the text, as `metrics` entries of a case (samples in time order)."""
    series: dict[tuple[tuple[str, str], ...], dict[str, Any]] = {}
    lines = text.splitlines()
    if len(lines) > MAX_LINES:
        raise ValueError(f"{len(lines):,} lines; at most {MAX_LINES:,}")
    for line_no, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            raise ValueError(f"line {line_no}: not a sample (name{{labels}} value [timestamp]): {line[:200]!r}")
        labels = {"__name__": match.group(1), **(_labels(match.group(2), line_no) if match.group(2) else {})}
        value = _number(match.group(3), line_no, "value")
        if not math.isfinite(value):
            continue  # NaN/Inf samples: a case's series are finite (a stale marker is just absence)
        key = tuple(sorted(labels.items()))
        entry = series.setdefault(key, {"labels": labels})
        if match.group(4) is None:
            entry["value"] = value
            continue
        moment = datetime.fromtimestamp(_number(match.group(4), line_no, "timestamp"), UTC)
        entry.setdefault("samples", []).append((moment, value))
    out = []
    for entry in series.values():
        if "samples" in entry:
            entry["samples"].sort(key=lambda sample: sample[0])
            entry.pop("value", None)
            entry["start"] = entry["samples"][0][0]
            entry["end"] = entry["samples"][-1][0]
        out.append(entry)
    return out
