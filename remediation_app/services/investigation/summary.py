"""Series as evidence: a compact summary of each one for a prompt (first, min, max, last, trend per
hour, when the threshold was crossed), never the raw points, and a thinned copy of the points for a
chart.

Points are (unix seconds, value) in time order, as prometheus_answer.Series holds them; NaN and
+/-Inf values are left out. Label names and values come from the datasource and are untrusted: in
text each is cut (LABEL_VALUE_MAX), escaped like PromQL strings and shown on one line, so a value
can neither run on nor break out of its line. Work is linear in the number of points; a caller on
the event loop summarizing many thousands of points runs this in a worker thread.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

LABEL_VALUE_MAX = 200
LABEL_NAME_MAX = 100
LABELS_MAX = 30  # labels kept per series (sorted, `__name__` first)
DIGITS = 4  # significant digits of a number in text
MAX_SERIES_SHOWN = 10

Point = tuple[float, float]
_PAST: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    "<": operator.lt,
    ">=": operator.ge,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}


class SeriesLike(Protocol):
    """What `summarize_range` reads from a series (prometheus_answer.Series has both)."""

    @property
    def labels(self) -> Mapping[str, str]: ...

    @property
    def points(self) -> Sequence[Point]: ...


@dataclass(frozen=True)
class SeriesSummary:
    """One series summarized. Points are (unix seconds, value); None when there is no finite point.
    With a threshold and an operator ("value op threshold" is "past"): `first_crossed` and
    `last_crossed` are the times of the first and last point that was past while the one before was
    not; `crossings` counts them; `past_at_first` and `currently_past` say whether the first and the
    last point were past (None without a threshold). `at_start`: the last point at or before
    `start_marker` (the alert's start), when that falls within the series."""

    labels: dict[str, str]
    count: int = 0
    first: Point | None = None
    last: Point | None = None
    min: Point | None = None
    max: Point | None = None
    trend_per_hour: float | None = None
    threshold: float | None = None
    op: str | None = None
    first_crossed: float | None = None
    last_crossed: float | None = None
    crossings: int = 0
    past_at_first: bool | None = None
    currently_past: bool | None = None
    at_start: Point | None = None
    start_marker: float | None = None
    labels_cut: int = 0  # labels beyond LABELS_MAX left out

    @property
    def ever_past(self) -> bool:
        return bool(self.past_at_first or self.crossings)

    @property
    def text(self) -> str:
        """One or two lines for a prompt."""
        return render_series(self)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (every number finite), for storing with the evidence."""
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        return {key: list(value) if isinstance(value, tuple) else value for key, value in data.items()}


@dataclass(frozen=True)
class RangeSummary:
    """A range result summarized. `series`: every series' summary, in the order given. `shown`: the
    indexes of those the text shows, most relevant first (past the threshold, then furthest past
    it). `omitted`: series left out of the text, counting `dropped` ones the caller never had."""

    series: list[SeriesSummary] = field(default_factory=list)
    shown: tuple[int, ...] = ()
    omitted: int = 0
    text: str = ""


def summarize_series(
    labels: Mapping[str, str],
    points: Iterable[Point],
    threshold: float | None = None,
    op: str | None = None,
    start_marker: float | None = None,
) -> SeriesSummary:
    """The summary of one series (see SeriesSummary). `op` is one of > < >= <= == != or None."""
    if op is not None and op not in _PAST:
        raise ValueError(f"unknown comparison operator {op!r}")
    if threshold is not None:
        threshold = float(threshold) if math.isfinite(threshold) else None
    kept, labels_cut = _shown_labels(labels)
    finite = [(t, v) for t, v in points if math.isfinite(t) and math.isfinite(v)]
    if any(finite[i][0] > finite[i + 1][0] for i in range(len(finite) - 1)):
        finite.sort(key=lambda point: point[0])
    base = SeriesSummary(kept, threshold=threshold, op=op, start_marker=start_marker, labels_cut=labels_cut)
    if not finite:
        return base
    fields: dict[str, Any] = {
        "count": len(finite),
        "first": finite[0],
        "last": finite[-1],
        "min": min(finite, key=lambda point: point[1]),
        "max": max(finite, key=lambda point: point[1]),
        "trend_per_hour": _trend(finite),
    }
    if start_marker is not None and finite[0][0] <= start_marker <= finite[-1][0]:
        fields["at_start"] = next(point for point in reversed(finite) if point[0] <= start_marker)
    if threshold is not None and op is not None:
        fields.update(_crossings(finite, _PAST[op], threshold))
    return _replace(base, fields)


def summarize_range(
    series: Iterable[SeriesLike],
    *,
    threshold: float | None = None,
    op: str | None = None,
    start_marker: float | None = None,
    max_series: int = MAX_SERIES_SHOWN,
    dropped: int = 0,
) -> RangeSummary:
    """Every series summarized; the text shows at most `max_series` of them, the most relevant
    first, labels common to all of them said once, and "(and N more series)" for the rest.
    `dropped`: series the datasource returned that the caller did not keep (QueryResult.dropped_series)."""
    summaries = [summarize_series(s.labels, s.points, threshold, op, start_marker) for s in series]
    order = sorted(range(len(summaries)), key=lambda index: _relevance(summaries[index], index))
    shown = tuple(order[: max(0, max_series)])
    omitted = len(summaries) - len(shown) + max(0, dropped)
    lines: list[str] = []
    if not summaries:
        lines.append("no series")
    common = _common_labels([summaries[index] for index in shown]) if len(shown) > 1 else {}
    if common:
        lines.append(f"labels common to the series below: {format_labels(common)}")
    for index in shown:
        lines.append(render_series(summaries[index], hide=common))
    if omitted:
        lines.append(f"(and {omitted} more series)")
    return RangeSummary(summaries, shown, omitted, "\n".join(lines))


def chart_points(points: Iterable[Point], max_points: int = 200) -> list[list[float]]:
    """At most `max_points` of `points` as [ts, value] for a chart, keeping the shape: the first and
    the last point, and the lowest and highest of each bucket between (spikes survive, unlike every
    n-th point). Non-finite values are left out (JSON has no NaN); values keep 6 significant digits."""
    if max_points < 4:
        raise ValueError("a chart needs at least 4 points")
    finite = [(t, v) for t, v in points if math.isfinite(t) and math.isfinite(v)]
    if len(finite) <= max_points:
        return [_chart_point(point) for point in finite]
    inner = finite[1:-1]
    buckets = (max_points - 2) // 2
    size = len(inner) / buckets
    kept = [finite[0]]
    for bucket in range(buckets):
        start, end = int(bucket * size), int((bucket + 1) * size)
        if start >= end:
            continue
        low = min(range(start, end), key=lambda i: inner[i][1])
        high = max(range(start, end), key=lambda i: inner[i][1])
        kept.extend(inner[i] for i in sorted({low, high}))
    kept.append(finite[-1])
    return [_chart_point(point) for point in kept]


def render_series(summary: SeriesSummary, hide: Mapping[str, str] | None = None) -> str:
    """A summary as one or two lines; labels in `hide` (said once elsewhere) are left out."""
    labels = {name: value for name, value in summary.labels.items() if not hide or hide.get(name) != value}
    head = format_labels(labels, cut=summary.labels_cut)
    if summary.first is None or summary.last is None or summary.min is None or summary.max is None:
        return f"{head}: no data"
    when = _time_formatter(summary.start_marker)
    if summary.count == 1:
        line = f"{head}: 1 point, {_number(summary.last[1])} at {when(summary.last[0])}"
    else:
        values = ", ".join(
            f"{name} {_number(point[1])} at {when(point[0])}"
            for name, point in (
                ("first", summary.first),
                ("min", summary.min),
                ("max", summary.max),
                ("last", summary.last),
            )
        )
        line = f"{head}: {summary.count} points, {values}"
    details: list[str] = []
    if summary.at_start is not None:
        details.append(f"at alert start {_number(summary.at_start[1])}")
    if summary.trend_per_hour is not None:
        details.append(f"trend {_number(summary.trend_per_hour, signed=True)}/h")
    if summary.threshold is not None and summary.op is not None:
        details.append(f"{summary.op} {_number(summary.threshold)}: {_threshold_text(summary, when)}")
    return line + ("\n  " + "; ".join(details) if details else "")


def format_labels(labels: Mapping[str, str], cut: int = 0) -> str:
    """`name{a="b",...}`: a plain metric name in front, values escaped like PromQL strings, names
    that are not plain identifiers quoted (Prometheus 3 allows any UTF-8 in both)."""
    name = labels.get("__name__", "")
    prefix = name if _plain(name, extra=":") else ""
    pairs = [
        f"{_label_name(key)}={_quoted(value)}" for key, value in labels.items() if not (prefix and key == "__name__")
    ]
    if cut:
        pairs.append(f"…+{cut} labels")
    return prefix + "{" + ",".join(pairs) + "}"


def _shown_labels(labels: Mapping[str, str]) -> tuple[dict[str, str], int]:
    names = sorted(labels, key=lambda name: (name != "__name__", name))
    kept = {_cut(str(name), LABEL_NAME_MAX): _cut(str(labels[name]), LABEL_VALUE_MAX) for name in names[:LABELS_MAX]}
    return kept, max(0, len(names) - LABELS_MAX)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _escaped(text: str) -> str:
    out = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return "".join(ch if ch.isprintable() else f"\\u{ord(ch):04x}" for ch in out)


def _quoted(text: str) -> str:
    return f'"{_escaped(text)}"'


def _plain(name: str, extra: str = "") -> bool:
    """A name PromQL reads without quotes: ASCII letters, digits, `_` (and `:` in metric names)."""
    return (
        bool(name)
        and not name[0].isdigit()
        and all(ch.isascii() and (ch.isalnum() or ch in "_" + extra) for ch in name)
    )


def _label_name(name: str) -> str:
    return name if _plain(name) else _quoted(name)


def _replace(summary: SeriesSummary, fields: dict[str, Any]) -> SeriesSummary:
    values = {name: getattr(summary, name) for name in summary.__dataclass_fields__}
    values.update(fields)
    return SeriesSummary(**values)


def _trend(points: Sequence[Point]) -> float | None:
    """Least-squares slope per hour; None for fewer than two distinct times (or an overflow)."""
    if len(points) < 2 or points[0][0] == points[-1][0]:
        return None
    slope = _slope(points) * 3600
    return slope if math.isfinite(slope) else None


def _slope(points: Sequence[Point]) -> float:
    """Least-squares slope (value per second), on times taken from their mean so that unix seconds
    (1.7e9) do not swamp the sums."""
    n = len(points)
    mean_t = math.fsum(t for t, _ in points) / n
    mean_v = math.fsum(v for _, v in points) / n
    spread = math.fsum((t - mean_t) ** 2 for t, _ in points)
    if spread == 0:
        return 0.0
    return math.fsum((t - mean_t) * (v - mean_v) for t, v in points) / spread


def _crossings(points: Sequence[Point], past: Callable[[float, float], bool], threshold: float) -> dict[str, Any]:
    first_crossed = last_crossed = None
    crossings = 0
    was = past(points[0][1], threshold)
    for t, v in points[1:]:
        now = past(v, threshold)
        if now and not was:
            crossings += 1
            last_crossed = t
            first_crossed = t if first_crossed is None else first_crossed
        was = now
    return {
        "first_crossed": first_crossed,
        "last_crossed": last_crossed,
        "crossings": crossings,
        "past_at_first": past(points[0][1], threshold),
        "currently_past": was,
    }


def _threshold_text(summary: SeriesSummary, when: Callable[[float], str]) -> str:
    if not summary.ever_past:
        return "never past in the window"
    if summary.past_at_first and not summary.crossings:
        return "past throughout the window" if summary.currently_past else "past at the window start, not at the end"
    times = "once" if summary.crossings == 1 else f"{summary.crossings} times"
    start = "past at the window start; " if summary.past_at_first else ""
    assert summary.first_crossed is not None and summary.last_crossed is not None
    crossed = f"crossed {times}, first at {when(summary.first_crossed)}"
    if summary.crossings > 1:
        crossed += f", last at {when(summary.last_crossed)}"
    return f"{start}{crossed}; {'still past' if summary.currently_past else 'not past'} at the end"


def _relevance(summary: SeriesSummary, index: int) -> tuple[bool, bool, bool, float, int]:
    """Sort key: series with data, past now, past at all, furthest in the direction of the op."""
    extreme = 0.0
    if summary.max is not None and summary.min is not None and summary.op in (">", ">="):
        extreme = -summary.max[1]
    elif summary.max is not None and summary.min is not None and summary.op in ("<", "<="):
        extreme = summary.min[1]
    return (summary.count == 0, not summary.currently_past, not summary.ever_past, extreme, index)


def _common_labels(summaries: Sequence[SeriesSummary]) -> dict[str, str]:
    common = dict(summaries[0].labels)
    for summary in summaries[1:]:
        common = {name: value for name, value in common.items() if summary.labels.get(name) == value}
    return common


def _number(value: float, *, signed: bool = False) -> str:
    value = value + 0.0  # no "-0"
    return f"{value:+.{DIGITS}g}" if signed else f"{value:.{DIGITS}g}"


def _time_formatter(start_marker: float | None) -> Callable[[float], str]:
    if start_marker is None:
        return _iso
    return lambda ts: _relative(ts - start_marker)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(round(ts), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _relative(seconds: float) -> str:
    """`-2h10m`, `+45s`, `-1d3h`: the two largest units, from the alert's start."""
    sign = "-" if seconds < 0 else "+"
    left = round(abs(seconds))
    parts: list[str] = []
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)):
        amount, left = divmod(left, size)
        if amount and len(parts) < 2:
            parts.append(f"{amount}{unit}")
        elif parts:
            break
    return sign + ("".join(parts) or "0s")


def _chart_point(point: Point) -> list[float]:
    return [round(point[0], 3), float(f"{point[1]:.6g}")]
