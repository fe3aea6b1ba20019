"""An alert's PromQL (services/investigation/promql.py): the expression from a generatorURL, what it
compares, the queries a model asks for; every normalized text checked by Prometheus's own parser."""

from __future__ import annotations

import subprocess
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import parse_qs, quote_plus, urlsplit

import pytest
import yaml

from remediation_app.services.investigation.promql import (
    MAX_EXPRESSION_CHARS,
    MAX_NESTING,
    MAX_OPERATORS,
    MAX_URL_CHARS,
    MESSAGE_MAX,
    AlertExpression,
    Condition,
    ExpressionError,
    analyse_expression,
    check_query,
    datasource_host,
    expression_from_generator_url,
    graph_url,
)
from tests.conftest import require_tool

RATIO = 'sum by (job) (rate(http_requests_total{code=~"5.."}[5m])) / sum by (job) (rate(http_requests_total[5m]))'
# (expression, value_expr, op, threshold, compared_to): op and threshold read "value op threshold".
SHAPES = [
    ("node_load1 > 0.9", "node_load1", ">", 0.9, None),
    ("0.9 < node_load1", "node_load1", ">", 0.9, None),
    ("0.2 >= free_ratio", "free_ratio", "<=", 0.2, None),
    ("((node_load1)) > 5", "node_load1", ">", 5.0, None),
    ("(node_load1 > 5)", "node_load1", ">", 5.0, None),
    ("node_load1 > (5)", "node_load1", ">", 5.0, None),
    ("temperature < -5", "temperature", "<", -5.0, None),
    ("temperature < -(5)", "temperature", "<", -5.0, None),
    ("node_memory_MemAvailable_bytes < 512 * 1024 * 1024", "node_memory_MemAvailable_bytes", "<", 536870912.0, None),
    ("up == 0", "up", "==", 0.0, None),
    (
        "kube_deployment_status_replicas_unavailable != 0",
        "kube_deployment_status_replicas_unavailable",
        "!=",
        0.0,
        None,
    ),
    (f"{RATIO} > 0.05", RATIO, ">", 0.05, None),
    (
        "histogram_quantile(0.99, sum by (le) (rate(http_duration_seconds_bucket[5m]))) > 0.5",
        "histogram_quantile(0.99, sum by (le) (rate(http_duration_seconds_bucket[5m])))",
        ">",
        0.5,
        None,
    ),
    (
        'predict_linear(node_filesystem_avail_bytes{fstype!~"tmpfs|overlay"}[6h], 4 * 3600) < 0',
        'predict_linear(node_filesystem_avail_bytes{fstype!~"tmpfs|overlay"}[6h], 4 * 3600)',
        "<",
        0.0,
        None,
    ),
    ("up offset 5m > 1", "up offset 5m", ">", 1.0, None),
    ("rate(errors_total[5m] offset 1h) > 2", "rate(errors_total[5m] offset 1h)", ">", 2.0, None),
    ("errors_total @ 1609746000 > 1", "errors_total @ 1609746000.000", ">", 1.0, None),
    ("time() - backup_last_success_timestamp > 86400", "time() - backup_last_success_timestamp", ">", 86400.0, None),
    ("sum(up) by (job) < 1", "sum by (job) (up)", "<", 1.0, None),
    # Two series compared: no threshold, the comparison kept.
    ("queue_length > queue_capacity", "queue_length", ">", None, "queue_capacity"),
    ("a > on (job) group_left (team) b", "a", ">", None, "b"),
    ("latency > scalar(slo_latency)", "latency", ">", None, "scalar(slo_latency)"),
    ("node_load1 < Inf", "node_load1", "<", None, "Inf"),
    # Not a comparison: chart the expression itself (or what absent() looks for).
    ("rate(errors_total[5m])", "rate(errors_total[5m])", None, None, None),
    ('absent(up{job="db"})', 'up{job="db"}', None, None, None),
    ('absent_over_time(up{job="db"}[10m])', 'up{job="db"}', None, None, None),
    ("vector(1)", "vector(1)", None, None, None),
]


@pytest.mark.parametrize(("expr", "value_expr", "op", "threshold", "compared_to"), SHAPES)
def test_what_an_expression_compares(
    expr: str, value_expr: str, op: str | None, threshold: float | None, compared_to: str | None
) -> None:
    found = analyse_expression(expr)
    assert (found.value_expr, found.op, found.threshold, found.compared_to) == (value_expr, op, threshold, compared_to)
    assert found.is_threshold is (threshold is not None)
    assert "\n" not in found.text
    # Normalizing is stable: the normalized text reads back the same.
    assert analyse_expression(found.text).text == found.text


def test_bool_comparisons_are_thresholds_too() -> None:
    found = analyse_expression("disk_used_ratio > bool 0.9")
    assert (found.value_expr, found.op, found.threshold) == ("disk_used_ratio", ">", 0.9)
    assert found.conditions == (Condition("disk_used_ratio", ">", 0.9, None, returns_bool=True),)
    # A comparison of a bool comparison: the inner one is the value.
    assert analyse_expression("up > bool 1 == 1").value_expr == "up > bool 1"


def test_set_operators_keep_the_left_comparison_first() -> None:
    both = analyse_expression("node_load1 > 4 and on (instance) node_cpu_busy_ratio > 0.9")
    assert (both.value_expr, both.op, both.threshold) == ("node_load1", ">", 4.0)
    assert [(c.value_expr, c.op, c.threshold) for c in both.conditions] == [
        ("node_load1", ">", 4.0),
        ("node_cpu_busy_ratio", ">", 0.9),
    ]
    chain = analyse_expression("a > 1 and b < 2 or c >= 3")
    assert [c.value_expr for c in chain.conditions] == ["a", "b", "c"]
    # `unless` fires when its right side is false: that side is no condition of the alert.
    unless = analyse_expression("errors > 5 unless maintenance_mode == 1")
    assert unless.conditions == (Condition("errors", ">", 5.0),)
    # No comparison on the left: the right one is the first.
    right = analyse_expression("up{job='db'} and on () hour() > 20")
    assert (right.value_expr, right.op, right.threshold) == ("hour()", ">", 20.0)
    fallback = analyse_expression("x > 1 or vector(0)")
    assert (fallback.value_expr, fallback.threshold) == ("x", 1.0)


def test_normalized_text_is_one_line_and_keeps_strings_whole() -> None:
    assert analyse_expression("sum(rate(x[5m])) by (job)   >   1 # a comment").text == "sum by (job) (rate(x[5m])) > 1"
    spaced = analyse_expression('up{path="/a  b\\"c", job=`raw"quote`} > 1')
    assert spaced.text == 'up{job="raw\\"quote",path="/a  b\\"c"} > 1'
    # Long expressions are prettified over several lines by the parser; the text is folded back.
    long = (
        '(sum by (instance) (rate(node_cpu_seconds_total{mode!="idle"}[5m])) / count by (instance) '
        '(node_cpu_seconds_total{mode="idle"})) * 100 > 90 and on (instance) node_load1 > 4 and '
        'something_with_a_long_metric_name{label="two  spaces"} < 5'
    )
    found = analyse_expression(long)
    assert "\n" not in found.text and 'label="two  spaces"' in found.text
    assert found.value_expr == (
        '(sum by (instance) (rate(node_cpu_seconds_total{mode!="idle"}[5m])) / count by (instance) '
        '(node_cpu_seconds_total{mode="idle"})) * 100'
    )
    assert [c.threshold for c in found.conditions] == [90.0, 4.0, 5.0]


def test_prometheus_itself_accepts_every_normalized_text(tmp_path: Path) -> None:
    """promtool (Prometheus's own parser) reads every text and value expression we would send."""
    promtool = require_tool("promtool")
    texts: list[str] = []
    for expr, *_ in SHAPES:
        found = analyse_expression(expr)
        texts += [found.text, found.value_expr, *(c.compared_to for c in found.conditions if c.compared_to)]
    texts.append(check_query('up{path="/a  b\\"c", job=`raw"quote`, x=~"a\\\\.b"} > 1'))
    rules = [{"alert": f"Shape{n}", "expr": text} for n, text in enumerate(texts)]
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "shapes", "rules": rules}]}))
    checked = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(rules)} rules found" in checked.stdout


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ('up{job="x"', "not valid PromQL"),
        ("sum(rate(x[5m])", "not valid PromQL"),
        ("up >", "not valid PromQL"),
        ("", "empty"),
        ("   \n", "empty"),
        ("x offset Inf > 1", "not valid PromQL"),  # the parser panics on it; it is refused all the same
        ("up[5m]", "range vector"),
        ("rate(x[5m])[10m:1m]", "range vector"),
        ('"just a string"', "a string"),
        ('up{job="a\x00b"} > 1', "control characters"),
        ("up\x1b[31m > 1", "control characters"),
        ("(" * (MAX_NESTING + 1) + "up" + ")" * (MAX_NESTING + 1), "nests"),
        (" + ".join(["up"] * (MAX_OPERATORS + 2)), "operators"),
    ],
)
def test_refused_expressions_say_why_briefly(expr: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=message) as refused:
        analyse_expression(expr)
    text = str(refused.value)
    assert len(text) <= MESSAGE_MAX + 40 and text.isprintable()


def test_parser_messages_are_cut_and_printable() -> None:
    with pytest.raises(ExpressionError) as refused:
        analyse_expression('up{job="x"} ' + "\u2028" * 50 + "}" * 300)
    assert len(str(refused.value)) <= MESSAGE_MAX + 20 and str(refused.value).isprintable()


def test_huge_and_deep_expressions_are_refused_before_parsing() -> None:
    started = time.perf_counter()
    for expr in (
        "up + " * 200_000 + "up",  # 1 MB: the parser would take minutes
        "-" * (MAX_EXPRESSION_CHARS - 2) + "up",
        "x" * (MAX_EXPRESSION_CHARS + 1),
    ):
        with pytest.raises(ExpressionError):
            analyse_expression(expr)
    assert time.perf_counter() - started < 1
    # Within the bounds even the worst shapes parse quickly.
    started = time.perf_counter()
    worst = "(" * MAX_NESTING + "+".join(["up"] * (MAX_OPERATORS + 1)) + ")" * MAX_NESTING
    assert analyse_expression(worst).value_expr.count("up") == MAX_OPERATORS + 1
    assert time.perf_counter() - started < 2
    # A long but ordinary expression is fine; an operator or bracket inside a string does not count.
    matchers = ",".join(f'l{n}!~"((((-+-+-))))"' for n in range(100))
    assert analyse_expression(f"up{{{matchers}}} > 1").op == ">"


def test_check_query_normalizes_a_models_query() -> None:
    assert check_query("sum(rate(x[5m])) by (job)") == "sum by (job) (rate(x[5m]))"
    assert check_query("up[5m]", range_query=False) == "up[5m]"
    with pytest.raises(ExpressionError, match="range vector"):
        check_query("up[5m]")
    with pytest.raises(ExpressionError, match="at most 100"):
        check_query("up + " * 30 + "up", max_len=100)
    with pytest.raises(ExpressionError, match="not valid PromQL"):
        check_query("rate(x[5m]")
    # An expanded normalization longer than the limit is refused too (1e-9 is written out).
    with pytest.raises(ExpressionError, match="normalized"):
        check_query("x > 1e-9", max_len=10)


def generator_url(expr: str, base: str = "http://prometheus:9090") -> str:
    """What Prometheus sends: Go's url.QueryEscape, which quote_plus matches."""
    return f"{base}/graph?g0.expr={quote_plus(expr)}&g0.tab=1"


@pytest.mark.parametrize(
    "expr",
    [
        f"{RATIO} > 0.05",
        'up{job="é 😀", path="/a+b&c=d#e"} == 0',
        'node_filesystem_avail_bytes{mountpoint="/"} / node_filesystem_size_bytes < 0.1',
    ],
)
def test_expressions_come_back_from_generator_urls(expr: str) -> None:
    assert expression_from_generator_url(generator_url(expr)) == expr


def test_generator_url_encodings() -> None:
    assert expression_from_generator_url("https://p/graph?g0.expr=up%7Bjob%3D%22a%22%7D+%3E+1") == 'up{job="a"} > 1'
    assert expression_from_generator_url("HTTP://p/graph?g0.expr=up%20%3E%201&g0.tab=1") == "up > 1"
    assert expression_from_generator_url("http://p/graph?g0.tab=1&g0.expr=a&g0.expr=b") == "a"
    # Bytes that are not UTF-8 become U+FFFD (the parser then decides).
    assert expression_from_generator_url("http://p/graph?g0.expr=up%7Bx%3D%22%FF%22%7D") == 'up{x="\ufffd"}'


@pytest.mark.parametrize(
    "url",
    [
        "http://grafana:3000/alerting/grafana/abc/view",
        "http://vmalert:8880/vmalert/alert?group_id=1&alert_id=2",
        "http://prometheus:9090/graph?g0.tab=1",
        "http://prometheus:9090/graph?g0.expr=&g0.tab=1",
        "http://prometheus:9090/graph?g0.expr=+++",
        "http://prometheus:9090/graph?g1.expr=up",
    ],
)
def test_generator_urls_without_an_expression(url: str) -> None:
    assert expression_from_generator_url(url) is None


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("javascript:alert(1)//?g0.expr=up", "not an http"),
        ("data:text/html;base64,PHNjcmlwdD4=?g0.expr=up", "not an http"),
        ("ftp://prometheus/graph?g0.expr=up", "not an http"),
        ("//prometheus:9090/graph?g0.expr=up", "not an http"),
        ("/graph?g0.expr=up", "not an http"),
        ("", "empty"),
        ("http://[::1/graph?g0.expr=up", "not a valid URL"),
        (generator_url("up") + "&x=" + "a" * 100_000, "characters long"),
        ("http://p/graph?" + "a=1&" * 1_000 + "g0.expr=up", "too many query parameters"),
    ],
)
def test_hostile_generator_urls_are_refused(url: str, message: str) -> None:
    started = time.perf_counter()
    with pytest.raises(ExpressionError, match=message):
        expression_from_generator_url(url)
    assert time.perf_counter() - started < 0.5


def test_url_cap_is_16_kb() -> None:
    url = generator_url("up") + "&pad=" + "a" * (MAX_URL_CHARS - len(generator_url("up")) - 5)
    assert len(url) == MAX_URL_CHARS and expression_from_generator_url(url) == "up"


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("http://Prometheus:9090/graph?g0.expr=up", "prometheus:9090"),
        ("https://user:secret@prom.example.com/prometheus/graph", "prom.example.com"),
        ("http://prom:80/", "prom"),
        ("https://prom:443", "prom"),
        ("http://prom:443", "prom:443"),
        ("http://[::1]:9090/graph", "[::1]:9090"),
        ("javascript:alert(1)", None),
        ("http://prom:notaport/", None),
        ("http://:9090/", None),
        ("", None),
    ],
)
def test_datasource_host(url: str, host: str | None) -> None:
    assert datasource_host(url) == host


def test_graph_url_links_to_the_same_query_without_credentials() -> None:
    start = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    link = graph_url(
        "https://admin:hunter2@prom.example.com/prometheus/?x=1#top",
        'up{job="a b"} > 1',
        start,
        start + timedelta(hours=2, minutes=30),
    )
    parts = urlsplit(link)
    assert (parts.scheme, parts.netloc, parts.path, parts.fragment) == (
        "https",
        "prom.example.com",
        "/prometheus/graph",
        "",
    )
    assert "hunter2" not in link and "admin" not in link
    params = {name: values[0] for name, values in parse_qs(parts.query).items()}
    assert params == {
        "g0.expr": 'up{job="a b"} > 1',
        "g0.tab": "0",
        "g0.range_input": "2h30m",
        "g0.end_input": "2024-05-01 12:30:00",
        "g0.moment_input": "2024-05-01 12:30:00",
    }
    # The link is itself a generatorURL-shaped link.
    assert expression_from_generator_url(link) == 'up{job="a b"} > 1'
    # Times in another zone are shown in UTC; a naive time is UTC.
    plus2 = timezone(timedelta(hours=2))
    other = graph_url("http://p:9090", "up", datetime(2024, 5, 1, 12, tzinfo=plus2), datetime(2024, 5, 1, 13))
    assert parse_qs(urlsplit(other).query)["g0.end_input"] == ["2024-05-01 13:00:00"]
    assert parse_qs(urlsplit(other).query)["g0.range_input"] == ["3h"]
    with pytest.raises(ExpressionError, match="not an http"):
        graph_url("javascript:alert(1)", "up", start, start)


def test_alert_expression_defaults() -> None:
    plain = AlertExpression("rate(x[5m])", "rate(x[5m])")
    assert not plain.is_threshold and plain.conditions == ()
