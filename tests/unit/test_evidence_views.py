"""What the alert page makes of an analysis' evidence (evidence_state.py): the chart's rows and
legend, each item, the hypotheses and how the evidence was gathered (no browser, no database)."""

from __future__ import annotations

from typing import Any

from remediation_app.models import Analysis, utcnow
from remediation_app.pages.alerts.analysis_state import analysis_view
from remediation_app.pages.alerts.evidence_state import (
    CHART_POINTS,
    investigation_view,
    legend_names,
    time_ticks,
    window_text,
)

START = 1_765_000_000.0


def metric(ref: str, kind: str, series: list[dict[str, Any]], **data: Any) -> dict[str, Any]:
    return {
        "id": ref,
        "kind": kind,
        "title": f"{kind} item",
        "datasource": "environment",
        "query": "up",
        "window_start": "2026-12-07T01:00:00",  # SQLite gives naive UTC back
        "window_end": "2026-12-07T04:00:30+00:00",
        "summary": "1 series",
        "data": {"series": series, "threshold": None, "op": None, "start": START, "step_s": 30, **data},
        "link": "http://prom:9090/graph?g0.expr=up",
        "duration_ms": 12,
        "error": "",
    }


def analysis(result: dict[str, Any] | None = None, investigation: dict[str, Any] | None = None) -> Analysis:
    return Analysis(
        id=7, alert_id=1, structured=True, result=result or {}, investigation=investigation or {}, created_at=utcnow()
    )


def test_the_chart_prefers_the_compared_value_and_merges_series_by_time() -> None:
    a = {"labels": {"instance": "db1", "mountpoint": "/var"}, "points": [[START, 0.4], [START + 30, 0.3]]}
    b = {"labels": {"instance": "db1", "mountpoint": "/"}, "points": [[START + 30, 0.7], [START + 60, 0.7]]}
    items = [
        metric("E1", "metric", [{"labels": {}, "points": [[START, 1.0]]}]),
        metric("E2", "metric_value", [a, b], threshold=0.05, op="<", total_series=7),
    ]
    view = investigation_view(analysis({"root_cause_evidence": []}), items)
    chart = view.chart
    assert (chart.ref, chart.title) == ("E2", "metric_value item")
    assert chart.rows == [
        {"t": START, "s0": 0.4},
        {"t": START + 30, "s0": 0.3, "s1": 0.7},
        {"t": START + 60, "s1": 0.7},
    ]
    assert [(line.key, line.name) for line in chart.lines] == [("s0", 'mountpoint="/var"'), ("s1", 'mountpoint="/"')]
    assert (chart.start, chart.has_start, chart.threshold, chart.has_threshold) == (START, True, 0.05, True)
    assert chart.threshold_label == "fires < 0.05" and chart.note == "2 of 7 series shown"


def test_no_chart_without_points_and_bounds_on_what_is_kept() -> None:
    failed = metric("E1", "metric_value", [{"labels": {}, "points": [[START, 1.0]]}]) | {"error": "HTTP 401"}
    empty = metric("E2", "metric", [{"labels": {"a": "b"}, "points": []}])
    assert investigation_view(analysis({"root_cause_evidence": []}), [failed, empty]).chart.lines == []
    many = [{"labels": {"i": str(i)}, "points": [[START + j, j] for j in range(500)]} for i in range(9)]
    chart = investigation_view(analysis(), [metric("E1", "metric", many)]).chart
    assert len(chart.lines) == 5 and len(chart.rows) == CHART_POINTS
    odd = {"labels": {}, "points": [[START, "1"], [START + 1, None], [True, 2], [START + 2, 3.5], "x"]}
    assert investigation_view(analysis(), [metric("E1", "metric", [odd])]).chart.rows == [{"t": START + 2, "s0": 3.5}]


def test_legend_names_say_what_tells_series_apart() -> None:
    assert legend_names([{"job": "node", "instance": "a"}]) == ['instance="a", job="node"']
    assert legend_names([{"job": "n", "instance": "a"}, {"job": "n", "instance": "b"}]) == [
        'instance="a"',
        'instance="b"',
    ]
    assert legend_names([{}]) == ["value"]
    assert len(legend_names([{"x": "y" * 1000}])[0]) <= 121


def test_items_hypotheses_and_how_evidence_was_gathered() -> None:
    related = {
        "id": "E3",
        "kind": "related_alerts",
        "title": "Other alerts",
        "summary": "1 other <script>x</script>",
        "data": {
            "alerts": [{"id": 9, "alertname": "HighIOWait", "severity": "warning", "shared": ["instance", "job"]}]
        },
        "link": "javascript:alert(1)",
        "duration_ms": 3,
        "error": "",
        "window_start": None,
        "window_end": None,
    }
    result = {
        "root_cause_evidence": ["E1"],
        "hypotheses": [
            {"explanation": "Steady growth", "confidence": 0.75, "supports": ["E1", "E99"], "contradicts": []},
            {"explanation": "", "confidence": 0.5},
            {"explanation": "A log burst", "confidence": None, "supports": [], "contradicts": ["E3"]},
        ],
        "inconclusive": True,
    }
    details = {"consulted": "Metrics were queried on the datasource 'environment'.", "redactions": {"aws-key": 2}}
    view = investigation_view(analysis(result, details), [metric("E1", "metric", []), related])
    first, third = view.evidence
    assert (first.anchor, first.window, first.duration) == (
        "evidence-E1",
        "2026-12-07 01:00:00 to 04:00:30 UTC",
        "12 ms",
    )
    assert first.link == "http://prom:9090/graph?g0.expr=up"
    assert third.link == "" and third.window == "" and third.summary == "1 other <script>x</script>"
    assert [(r.href, r.alertname, r.shared) for r in third.related] == [("/alerts/9", "HighIOWait", "instance, job")]
    assert [(h.rank, h.explanation, h.confidence, h.supports, h.contradicts) for h in view.hypotheses] == [
        (1, "Steady growth", "75%", ["E1"], []),
        (2, "A log burst", "", [], ["E3"]),
    ]
    assert view.inconclusive and view.consulted.startswith("Metrics were queried")
    assert view.redactions == "2 secrets redacted before the model saw the prompt (2 aws-key)."
    assert investigation_view(analysis({}, {"redacted": False}), []).redactions == (
        "Not redacted: the provider is marked local."
    )


def test_an_analysis_from_before_investigations_shows_nothing_extra() -> None:
    old = Analysis(
        id=3, alert_id=1, structured=True, result={"root_cause": "disk"}, investigation={}, created_at=utcnow()
    )
    assert investigation_view(old, []).present is False
    view = analysis_view(old)
    assert (view.investigated, view.cites, view.linked, view.inconclusive) == (False, [], False, False)
    new = analysis_view(analysis({"root_cause": "disk", "root_cause_evidence": ["E2"]}))
    assert (new.investigated, new.cites) == (True, ["E2"])


def test_window_text() -> None:
    assert window_text("2026-12-07T23:00:00+00:00", "2026-12-08T01:00:00+00:00") == (
        "2026-12-07 23:00:00 to 2026-12-08 01:00:00 UTC"
    )
    assert window_text("2026-12-07T23:00:00", "2026-12-07T23:00:00") == "at 2026-12-07 23:00:00 UTC"
    assert window_text(None, "x") == ""


def test_time_ticks_fall_on_round_times() -> None:
    first = 1_765_000_000.0  # 05:46:40 UTC
    ticks = time_ticks(first, first + 3 * 3600 + 300)
    assert [t % 1800 for t in ticks] == [0] * 6 and ticks[0] > first and ticks[-1] <= first + 3 * 3600 + 300
    day = time_ticks(first, first + 24 * 3600)
    assert len(day) == 8 and all(t % 10800 == 0 for t in day)
    assert 1 <= len(time_ticks(first, first + 30 * 86400)) <= 8
    assert time_ticks(first, first) == []
