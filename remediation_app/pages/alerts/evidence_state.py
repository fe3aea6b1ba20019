"""The latest analysis' investigation as the alert page shows it (the view is evidence.py): the
alert's metric as chart rows, each evidence item, the ranked hypotheses, how the evidence was
gathered. Loaded with the analysis section (analysis_state.load_analysis_panel: one more query, for
the latest analysis only), so an analysis arriving while the page is open shows its evidence too.

Everything here came from a datasource, our store or the model: untrusted text, shown as text by
the view, each piece cut to a bound before it enters a state var (which the browser receives).
"""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.models import Analysis
from remediation_app.services.alert_text import bounded_link, clipped
from remediation_app.services.investigation.store import evidence_for

# Metric evidence the chart may show, in order of preference: the compared value (not 0/1), the
# alert's expression, a range the model asked for.
CHART_KINDS = ("metric_value", "metric", "tool_range")
CHART_SERIES = 5
CHART_POINTS = 200  # per series: what the engine stores (summary.chart_points), checked again here
SERIES_COLORS = ("indigo", "orange", "green", "crimson", "cyan")
ITEMS_MAX = 40
RELATED_MAX = 20
TEXT_MAX = 8_000  # an item's summary or error
QUERY_MAX = 4_000
LABEL_TEXT_MAX = 120  # a legend entry
SHORT_MAX = 300  # titles, names
# Time axis ticks on round times (a minute ... six hours apart), at most TICKS_MAX of them.
TICK_STEPS_S = (60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600)
TICKS_MAX = 8


@dataclasses.dataclass
class ChartLine:
    key: str = ""  # the rows' field holding this series' values ("s0" ... "s4")
    name: str = ""  # the legend: the labels that differ between the series
    color: str = ""


@dataclasses.dataclass
class ChartView:
    """One metric item as recharts rows: {"t": unix seconds, "s0": value, ...}, sorted by time; a
    series without a point at some time has no field there (the line is drawn across)."""

    ref: str = ""
    title: str = ""
    rows: list[dict[str, float]] = dataclasses.field(default_factory=list)
    lines: list[ChartLine] = dataclasses.field(default_factory=list)
    ticks: list[int] = dataclasses.field(default_factory=list)
    start: float = 0.0
    has_start: bool = False
    threshold: float = 0.0
    has_threshold: bool = False
    threshold_label: str = ""
    note: str = ""  # "5 of 12 series shown"


@dataclasses.dataclass
class RelatedAlertView:
    href: str = ""
    alertname: str = ""
    severity: str = ""
    shared: str = ""


@dataclasses.dataclass
class EvidenceView:
    ref: str = ""
    anchor: str = ""  # the element id chips link to ("evidence-E1")
    kind: str = ""
    title: str = ""
    datasource: str = ""
    query: str = ""
    window: str = ""
    duration: str = ""
    summary: str = ""
    error: str = ""
    link: str = ""
    related: list[RelatedAlertView] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class HypothesisView:
    rank: int = 0
    explanation: str = ""
    confidence: str = ""
    supports: list[str] = dataclasses.field(default_factory=list)
    contradicts: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class InvestigationView:
    """Nothing `present` for an analysis made before investigations (no evidence, no record)."""

    present: bool = False
    chart: ChartView = dataclasses.field(default_factory=ChartView)
    evidence: list[EvidenceView] = dataclasses.field(default_factory=list)
    hypotheses: list[HypothesisView] = dataclasses.field(default_factory=list)
    inconclusive: bool = False
    consulted: str = ""
    redactions: str = ""


def investigated(analysis: Analysis) -> bool:
    """Whether `analysis` was made by an investigation (so a root cause citing nothing is unsupported)."""
    result = analysis.result if isinstance(analysis.result, dict) else {}
    return "root_cause_evidence" in result or bool(analysis.investigation)


def cited(value: Any) -> list[str]:
    """Evidence ids as the parser kept them (a list of "E<n>"); anything else is left out."""
    if not isinstance(value, list):
        return []
    return [str(ref)[:16] for ref in value[:ITEMS_MAX] if isinstance(ref, str) and ref.startswith("E")]


def _text(value: Any, limit: int = SHORT_MAX) -> str:
    return "" if value is None else clipped(str(value), limit)


def _utc(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def window_text(start: Any, end: Any) -> str:
    """ "2026-12-07 01:00:00 to 04:00:00 UTC" (the date again when the window spans midnight)."""
    first, last = _utc(start), _utc(end)
    if first is None or last is None:
        return ""
    if first == last:
        return f"at {first:%Y-%m-%d %H:%M:%S} UTC"
    tail = f"{last:%H:%M:%S}" if first.date() == last.date() else f"{last:%Y-%m-%d %H:%M:%S}"
    return f"{first:%Y-%m-%d %H:%M:%S} to {tail} UTC"


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _points(series: Any) -> list[tuple[float, float]]:
    raw = series.get("points") if isinstance(series, dict) else None
    if not isinstance(raw, list):
        return []
    found: list[tuple[float, float]] = []
    for point in raw[:CHART_POINTS]:
        if isinstance(point, list | tuple) and len(point) == 2:
            at, value = _number(point[0]), _number(point[1])
            if at is not None and value is not None:
                found.append((at, value))
    return found


def _labels(series: Any) -> dict[str, str]:
    raw = series.get("labels") if isinstance(series, dict) else None
    return {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}


def legend_names(label_sets: list[dict[str, str]]) -> list[str]:
    """Each series named by the labels that tell it from the others (all of them for one series)."""
    names = sorted({name for labels in label_sets for name in labels})
    differing = [name for name in names if len({labels.get(name) for labels in label_sets}) > 1]
    shown = differing if len(label_sets) > 1 and differing else names
    return [
        clipped(", ".join(f'{name}="{labels[name]}"' for name in shown if name in labels) or "value", LABEL_TEXT_MAX)
        for labels in label_sets
    ]


def time_ticks(first: float, last: float) -> list[int]:
    """Round times between `first` and `last` (unix seconds), at most TICKS_MAX."""
    span = max(0.0, last - first)
    longest = TICK_STEPS_S[-1]
    step = next((s for s in TICK_STEPS_S if span / s <= TICKS_MAX), longest * math.ceil(span / (longest * TICKS_MAX)))
    first_tick = math.ceil(first / step) * step
    return [int(first_tick + i * step) for i in range(int((last - first_tick) // step) + 1)] if span else []


def _chartable(item: dict[str, Any]) -> list[tuple[dict[str, str], list[tuple[float, float]]]]:
    data = item.get("data") if isinstance(item.get("data"), dict) else {}
    series = data.get("series") if isinstance(data, dict) else None
    if item.get("error") or not isinstance(series, list):
        return []
    found = [(_labels(s), _points(s)) for s in series[:CHART_SERIES]]
    return [(labels, points) for labels, points in found if points]


def chart_view(items: list[dict[str, Any]]) -> ChartView:
    """The first metric item with points, of the kind the chart prefers (CHART_KINDS)."""
    for kind in CHART_KINDS:
        for item in items:
            if item.get("kind") == kind and (series := _chartable(item)):
                return _chart(item, series)
    return ChartView()


def _chart(item: dict[str, Any], series: list[tuple[dict[str, str], list[tuple[float, float]]]]) -> ChartView:
    data: dict[str, Any] = item["data"]
    by_time: dict[float, dict[str, float]] = {}
    for index, (_, points) in enumerate(series):
        for at, value in points:
            by_time.setdefault(at, {"t": at})[f"s{index}"] = value
    names = legend_names([labels for labels, _ in series])
    lines = [ChartLine(f"s{i}", name, f"var(--{SERIES_COLORS[i]}-9)") for i, name in enumerate(names)]
    start, threshold = _number(data.get("start")), _number(data.get("threshold"))
    op = data.get("op") if data.get("op") in (">", "<", ">=", "<=", "==", "!=") else ""
    total = data.get("total_series")
    note = f"{len(series)} of {total} series shown" if isinstance(total, int) and total > len(series) else ""
    times = sorted(by_time)
    return ChartView(
        ref=_text(item.get("id"), 16),
        title=_text(item.get("title")),
        rows=[by_time[at] for at in times],
        lines=lines,
        ticks=time_ticks(times[0], times[-1]),
        start=start or 0.0,
        has_start=start is not None,
        threshold=threshold or 0.0,
        has_threshold=threshold is not None,
        threshold_label=f"fires {op} {threshold:g}" if threshold is not None and op else "threshold",
        note=note,
    )


def _related(data: Any) -> list[RelatedAlertView]:
    alerts = data.get("alerts") if isinstance(data, dict) else None
    if not isinstance(alerts, list):
        return []
    return [
        RelatedAlertView(
            href=f"/alerts/{a['id']}",
            alertname=_text(a.get("alertname")),
            severity=_text(a.get("severity"), 32),
            shared=_text(", ".join(str(s) for s in a.get("shared") or [] if isinstance(s, str))),
        )
        for a in alerts[:RELATED_MAX]
        if isinstance(a, dict) and isinstance(a.get("id"), int) and not isinstance(a.get("id"), bool)
    ]


def evidence_view(item: dict[str, Any]) -> EvidenceView:
    ref = _text(item.get("id"), 16)
    duration = item.get("duration_ms")
    return EvidenceView(
        ref=ref,
        anchor=f"evidence-{ref}",
        kind=_text(item.get("kind"), 32),
        title=_text(item.get("title")),
        datasource=_text(item.get("datasource"), 100),
        query=_text(item.get("query"), QUERY_MAX),
        window=window_text(item.get("window_start"), item.get("window_end")),
        duration=f"{duration} ms" if isinstance(duration, int) and not isinstance(duration, bool) else "",
        summary=_text(item.get("summary"), TEXT_MAX),
        error=_text(item.get("error"), TEXT_MAX),
        link=bounded_link(str(item.get("link") or "")),
        related=_related(item.get("data")),
    )


def hypothesis_views(value: Any, known: set[str]) -> list[HypothesisView]:
    """Ranked as the parser stored them (most likely first); only citations of shown evidence."""
    if not isinstance(value, list):
        return []
    found: list[HypothesisView] = []
    for item in value[:5]:
        if not isinstance(item, dict) or not item.get("explanation"):
            continue
        confidence = _number(item.get("confidence"))
        found.append(
            HypothesisView(
                rank=len(found) + 1,
                explanation=_text(item.get("explanation"), TEXT_MAX),
                confidence=f"{round(confidence * 100)}%" if confidence is not None else "",
                supports=[ref for ref in cited(item.get("supports")) if ref in known],
                contradicts=[ref for ref in cited(item.get("contradicts")) if ref in known],
            )
        )
    return found


def redaction_text(details: dict[str, Any]) -> str:
    """What the redaction did to the prompt: "3 secrets redacted before the model saw the prompt (...)"."""
    counts = details.get("redactions")
    if isinstance(counts, dict):
        kinds = {str(k): v for k, v in counts.items() if isinstance(v, int) and not isinstance(v, bool) and v > 0}
        total = sum(kinds.values())
        if total:
            each = ", ".join(f"{count} {kind}" for kind, count in sorted(kinds.items()))
            noun = "secret" if total == 1 else "secrets"
            return _text(f"{total} {noun} redacted before the model saw the prompt ({each}).")
        return "No secret found to redact in the prompt."
    if details.get("redacted") is False:
        return "Not redacted: the provider is marked local."
    return ""


def investigation_view(analysis: Analysis, evidence: list[dict[str, Any]]) -> InvestigationView:
    if not evidence and not investigated(analysis):
        return InvestigationView()
    result = analysis.result if isinstance(analysis.result, dict) else {}
    details = analysis.investigation if isinstance(analysis.investigation, dict) else {}
    items = [evidence_view(item) for item in evidence[:ITEMS_MAX]]
    return InvestigationView(
        present=True,
        chart=chart_view(evidence),
        evidence=items,
        hypotheses=hypothesis_views(result.get("hypotheses"), {item.ref for item in items}),
        inconclusive=result.get("inconclusive") is True,
        consulted=_text(details.get("consulted")),
        redactions=redaction_text(details),
    )


async def load_investigation(session: AsyncSession, analysis: Analysis | None) -> InvestigationView:
    """The investigation of `analysis` (the latest one), read in the caller's session."""
    if analysis is None or analysis.id is None:
        return InvestigationView()
    evidence = (await evidence_for(session, [analysis.id])).get(analysis.id, [])
    return investigation_view(analysis, evidence)
