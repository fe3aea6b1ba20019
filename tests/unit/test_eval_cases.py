"""Evaluation cases: every shipped case loads and holds the evidence its rubric needs; the series
generator and the replayed datasource answer like Prometheus; broken case files are refused with
errors that name the file and the field."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from remediation_app.services.evals.cases import MAX_FILE_BYTES, CaseError, load_case, load_cases, parse_case
from remediation_app.services.evals.fixtures import unanswered
from remediation_app.services.evals.replay import DATASOURCE, CaseReplay
from remediation_app.services.evals.series import SeriesSpec

pytestmark = pytest.mark.anyio
NOW = datetime(2025, 1, 15, 12, 0, tzinfo=UTC)
# The failure modes the shipped set must cover (issue #18), each by a tag of at least one case.
FAILURE_MODES = {
    "logs", "wal", "inodes", "oom", "certificates", "replication", "connection-pool", "dns", "throttling",
    "crashloop", "5xx", "ntp", "cron", "noisy-neighbour", "queue", "file-descriptors", "red-herring",
}  # fmt: skip

MINIMAL = """
title: Minimal
expression: up{job="api"} == 0
payload:
  alerts:
    - status: firing
      labels: {alertname: ApiDown, instance: "api-1:8080", job: api}
      startsAt: -10m
queries:
  - query: up{job="api"}
    series:
      - labels: {instance: "api-1:8080", job: api}
        points: [[-2h, 1], [-15m, 1], [-14m, 0], [0, 0]]
expected:
  facts:
    - name: down
      any: [down]
"""


def test_every_shipped_case_loads_and_answers_what_its_rubric_needs() -> None:
    cases = load_cases()
    assert len(cases) >= 25
    assert len({c.id for c in cases}) == len(cases)
    assert {tag for c in cases for tag in c.tags} >= FAILURE_MODES
    assert sum("red-herring" in c.tags for c in cases) >= 4
    assert {c.difficulty for c in cases} == {"easy", "medium", "hard"}
    for case in cases:
        assert unanswered(case) == [], case.id
        assert case.expected.facts and (case.expected.forbidden or case.expected.fix), case.id


def test_a_case_replays_as_prometheus_answers() -> None:
    case = parse_case(MINIMAL, "minimal.yaml")
    replay = CaseReplay(case, NOW)
    alert = replay.alert()
    assert (alert.alertname, alert.instance, alert.starts_at) == ("ApiDown", "api-1:8080", NOW - timedelta(minutes=10))
    assert alert.id is None and "g0.expr=up" in alert.generator_url

    start, end = NOW.timestamp() - 1800, NOW.timestamp()
    status, body = replay.answer(
        "api/v1/query_range", {"query": 'up{job="api"}', "start": str(start), "end": str(end), "step": "300"}
    )
    answer = json.loads(body)
    assert status == 200 and answer["status"] == "success" and answer["data"]["resultType"] == "matrix"
    [series] = answer["data"]["result"]
    assert series["metric"] == {"instance": "api-1:8080", "job": "api"}
    assert [v for _, v in series["values"]] == ["1.0", "1.0", "1.0", "1.0", "0.0", "0.0", "0.0"]

    # The alert's comparison filters the values (and drops no label here: there is no __name__).
    _, body = replay.answer(
        "api/v1/query_range", {"query": 'up{job="api"} == 0', "start": str(start), "end": str(end), "step": "300"}
    )
    assert [t for t, _ in json.loads(body)["data"]["result"][0]["values"]] == [end - 600, end - 300, end]

    # Instant: a vector at the time asked; a query the case does not know: no data.
    _, body = replay.answer("api/v1/query", {"query": 'up{job="api"}', "time": str(end - 3600)})
    assert json.loads(body)["data"] == {
        "resultType": "vector",
        "result": [{"metric": {"instance": "api-1:8080", "job": "api"}, "value": [end - 3600, "1.0"]}],
    }
    _, body = replay.answer("api/v1/query", {"query": "node_load1"})
    assert json.loads(body)["data"]["result"] == []
    assert replay.answer("api/v1/status/buildinfo", {})[0] == 404
    assert replay.asked == ['up{job="api"}', 'up{job="api"} == 0', 'up{job="api"}', "node_load1"]


async def test_raw_metrics_answer_selectors_through_the_real_client() -> None:
    text = (
        MINIMAL
        + """
metrics:
  - labels: {__name__: http_requests_total, code: "200", job: api}
    start: -1h
    value: 100
    steps: [-30m, -20m]
    step_size: 50
  - labels: {__name__: http_requests_total, code: "503", job: api}
    value: 7
"""
    )
    replay = CaseReplay(parse_case(text, "m.yaml"), NOW)
    async with replay.open_client(DATASOURCE) as client:
        result = await client.range('http_requests_total{code=~"2.."}', NOW - timedelta(hours=2), NOW, 600)
        assert result.result_type == "matrix" and len(result.series) == 1
        assert result.series[0].labels["__name__"] == "http_requests_total"
        # Absent before its start; then 100, +50 at -30m and again at -20m.
        assert [v for _, v in result.series[0].points] == [100, 100, 100, 150, 200, 200, 200]
        assert len((await client.instant('http_requests_total{job="api"}', NOW)).series) == 2
        assert (await client.instant('http_requests_total{code!="200"} > 5', NOW)).series[0].labels == {
            "code": "503",
            "job": "api",
        }
        assert (await client.instant("rate(http_requests_total[5m])", NOW)).series == []


def test_series_shapes_are_seeded_and_bounded() -> None:
    spec = SeriesSpec.model_validate(
        {"points": [["-2h", 10], ["0", 20]], "noise": 0.5, "seed": 7, "clamp": [0, 19], "every": "1m"}
    )
    assert spec.at(-3600) == spec.at(-3600) and 14.5 <= spec.at(-3600) <= 15.5  # type: ignore[operator]
    assert spec.at(-3600) != SeriesSpec.model_validate({**spec.model_dump(), "seed": 8}).at(-3600)
    assert spec.at(0) == 19  # clamped
    pulses = SeriesSpec.model_validate({"value": 1, "pulses": {"every": "15m", "width": "5m", "height": 9}})
    assert [pulses.at(-60 * m) for m in (0, 4, 5, 10, 15)] == [10, 1, 1, 1, 10]
    ended = SeriesSpec.model_validate({"value": 3, "start": "-1h", "end": "-30m"})
    assert (ended.at(-3700), ended.at(-1900), ended.at(-1600), ended.at(-1400)) == (None, 3, 3, None)
    literal = SeriesSpec.model_validate({"samples": [[-600, 1], [-300, 2]]})
    assert (literal.at(-700), literal.at(-400), literal.at(-10), literal.at(200)) == (None, 1, 2, None)


def test_a_case_folder_with_openmetrics_samples(tmp_path: Path) -> None:
    folder = tmp_path / "api-down"
    folder.mkdir()
    (folder / "case.yaml").write_text(MINIMAL + "now: 2025-01-15T12:00:00Z\n")
    first = int(NOW.timestamp()) - 600
    (folder / "metrics.om").write_text(
        "# TYPE api_errors gauge\n"
        f'api_errors{{job="api",path="/a\\"b"}} 4 {first}\n'
        f'api_errors{{job="api",path="/a\\"b"}} 9 {first + 300}\n'
        "api_build 1\n# EOF\n"
    )
    case = load_case(folder)
    assert case.id == "api-down"
    replay = CaseReplay(case, datetime.now(UTC))  # the case's own clock is shifted to now
    _, body = replay.answer("api/v1/query", {"query": "api_errors"})
    [series] = json.loads(body)["data"]["result"]
    assert series["metric"] == {"__name__": "api_errors", "job": "api", "path": '/a"b'} and series["value"][1] == "9.0"
    assert (
        json.loads(replay.answer("api/v1/query", {"query": "api_build"})[1])["data"]["result"][0]["value"][1] == "1.0"
    )

    (folder / "metrics.om").write_text("api_errors{job=api} 4\n")
    with pytest.raises(CaseError, match=r"metrics\.om: line 1: cannot read the labels"):
        load_case(folder)


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (lambda t: t.replace("title: Minimal\n", ""), r"bad\.yaml: title: Field required"),
        (
            lambda t: t.replace("any: [down]", "regex: ['(unclosed']"),
            r"bad\.yaml: expected\.facts\[0\]\.regex: .*not a valid regular expression",
        ),
        (
            lambda t: t.replace("[-2h, 1]", "[-2x, 1]"),
            r"bad\.yaml: queries\[0\]\.series\[0\]\.points\[0\]\[0\]: not a time: '-2x'",
        ),
        (
            lambda t: t.replace("[-2h, 1]", "[2025-01-15T10:00:00Z, 1]"),
            r"queries\[0\]\.series\[0\]\.points\[0\]\[0\]: an absolute time needs the case's `now`",
        ),
        (
            lambda t: t.replace('query: up{job="api"}\n', "query: up{job=\n"),
            r"bad\.yaml: queries\[0\]\.query: not valid PromQL",
        ),
        (
            lambda t: t.replace("status: firing", "status: burning"),
            r"bad\.yaml: payload: alerts\[0\]\.status: Input should be .firing. or .resolved.",
        ),
        (lambda t: t.replace("startsAt: -10m", "startsAt: yesterday"), r"bad\.yaml: payload: not a time: 'yesterday'"),
        (lambda t: t + "colour: red\n", r"bad\.yaml: colour: Extra inputs are not permitted"),
        (
            lambda t: t.replace("  facts:\n    - name: down\n      any: [down]\n", "  facts: []\n"),
            r"expected\.facts: List should have at least 1 item",
        ),
        (lambda t: t.replace("      any: [down]\n", ""), r"expected\.facts\[0\]: .*give `any` phrases"),
        (lambda t: t + "id: Bad Id\n", r"bad\.yaml: id: lowercase letters"),
        (lambda t: "- just\n- a list\n", r"bad\.yaml: a case is a YAML mapping"),
        (lambda t: "title: [unclosed\n", r"bad\.yaml: not valid YAML \(line 2, column 1\)"),
    ],
)
def test_malformed_cases_name_the_file_and_the_field(tmp_path: Path, change, error) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(change(MINIMAL))
    with pytest.raises(CaseError, match=error):
        load_cases(path)


def test_a_folder_reports_every_broken_case_and_duplicate_ids(tmp_path: Path) -> None:
    (tmp_path / "one.yaml").write_text(MINIMAL + "id: same\n")
    (tmp_path / "two.yaml").write_text(MINIMAL + "id: same\n")
    (tmp_path / "three.yaml").write_text(MINIMAL.replace("title: Minimal\n", ""))
    (tmp_path / "notes.txt").write_text("not a case")
    with pytest.raises(CaseError) as raised:
        load_cases(tmp_path)
    text = str(raised.value)
    assert "three.yaml: title: Field required" in text
    assert "two.yaml: id 'same' is also the id of" in text and "one.yaml" in text

    (tmp_path / "three.yaml").write_bytes(b"title: x\n" + b"#" * MAX_FILE_BYTES)
    with pytest.raises(CaseError, match=r"three\.yaml: .* bytes; a case file may hold at most"):
        load_cases(tmp_path)
    with pytest.raises(CaseError, match="no such file or folder"):
        load_cases(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CaseError, match="no case in it"):
        load_cases(tmp_path / "empty")
