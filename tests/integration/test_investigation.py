"""Investigation end to end: webhook -> job -> the real worker -> evidence gathered from a real Prometheus
with backfilled history (tests/support/prom_history.py) and from our store -> redaction -> the loopback
fake provider (one call, or a tool loop it drives) -> Analysis and Evidence rows. Faults, hostile input
and what leaves for the provider: test_investigation_faults.py.

What the model received is asserted on the fake's recorded requests, what was kept on the rows."""

from __future__ import annotations

import json
import re
import time
from urllib.parse import parse_qs, urlsplit

import pytest

from remediation_app.db import async_session
from remediation_app.services.investigation import datasources
from tests.conftest import add_user, sqlite_only
from tests.support import investigation
from tests.support.fake_llm import GOOD_ANALYSIS, RecordedRequest, Step, reply_json, tool_call, tool_calls
from tests.support.investigation import (
    DISK_EXPR,
    DISK_VALUE,
    analyse,
    as_quoted,
    disk_alert,
    evidence_block,
    iso,
    latency_alert,
    seconds,
    sent_text,
    stored,
    user_prompt,
)
from tests.support.payloads import am_alert
from tests.support.prom_faults import CannedServer, Reply, refused_url

pytestmark = pytest.mark.anyio
# The shared fixtures (tests/support/investigation.py), bound here so that pytest finds them.
env, fake, history_prom, litellm_loaded = (
    investigation.env,
    investigation.fake,
    investigation.history_prom,
    investigation.litellm_loaded,
)
CITED = re.compile(r'evidence id "(E\d+)"')


# ---- 1. the disk alert, on the real history


async def test_a_filling_disk_is_investigated_with_the_stored_history(post_webhook, env, fake, history_prom):
    history, disk = history_prom.history, history_prom.history.disk
    env(PROMETHEUS_URL=history_prom.url)
    earlier = am_alert(
        "VarFilling",
        status="resolved",
        severity="critical",
        instance=disk.instance,
        job=disk.job,
        starts_at=iso(history.end - 2 * 86400),
        ends_at=iso(history.end - 2 * 86400 + 1500),
    )
    neighbour = am_alert("HighIOWait", severity="warning", instance=disk.instance, job=disk.job)
    answer = {
        **GOOD_ANALYSIS,
        "root_cause": "/var fills steadily (E1) with no other alert at fault (E3).",
        "root_cause_evidence": ["E1", "E99", "E3"],
        "hypotheses": [
            {"explanation": "A burst of logs", "confidence": 0.2, "supports": ["E2"], "contradicts": ["E1", "E42"]},
            {"explanation": "Steady growth of data", "confidence": 0.75, "supports": ["E1", "E99"]},
        ],
        "inconclusive": False,
    }
    fake.script(reply_json(answer))
    alert = disk_alert(history_prom)
    alert_id, _job, took = await analyse(post_webhook, alert, earlier, neighbour)
    starts_at = history.end - 240

    # What the model read: one call, no tools, the evidence quoted with the real numbers.
    [request] = fake.chat_requests
    assert "tools" not in request.json
    prompt, block = user_prompt(request), evidence_block(request)
    assert "Metrics were queried on the datasource 'environment'." in prompt.replace(block, "")
    assert block.startswith(
        "[E1] The compared value (\\u003c 0.05 fires) (datasource environment)\nquery: " + DISK_VALUE
    )
    shown = re.search(r"points, first ([\d.]+) at -2h5\dm.*, last ([\d.]+) at \+4m", block)
    assert shown is not None, block
    assert float(shown.group(1)) == pytest.approx(0.40, abs=0.001) and 0.04 <= float(shown.group(2)) < 0.05
    assert "trend -0.12/h" in block
    assert "\\u003c 0.05: crossed once, first at -" in block and "still past at the end" in block
    assert (
        f"[E2] The alert's expression over the window (datasource environment)\nquery: {DISK_VALUE} \\u003c 0.05"
        in block
    )
    assert "[E3] Other alerts firing now at the same place\n1 other firing alert(s) share" in block
    assert "- HighIOWait [warning] since" in block
    assert '[E4] Earlier occurrences of this alert\n1 earlier occurrence(s) of alertname="VarFilling"' in block
    assert "lasted 25m" in block

    analysis, rows = await stored(alert_id)
    assert [(r.ref, r.kind) for r in rows] == [
        ("E1", "metric_value"),
        ("E2", "metric"),
        ("E3", "related_alerts"),
        ("E4", "history"),
    ]
    assert all(not r.error for r in rows), [r.error for r in rows]
    value, expression, neighbours, earlier_rows = rows

    # E1: the compared value over the window, its chart points exactly the stored samples.
    assert (value.datasource, value.query) == ("environment", DISK_VALUE)
    assert seconds(value.window_start) == starts_at - 3 * 3600
    assert starts_at < seconds(value.window_end) <= time.time()
    assert as_quoted(value.summary) in block
    link = urlsplit(value.link)
    assert f"{link.scheme}://{link.netloc}" == history_prom.url and link.path == "/graph"
    assert parse_qs(link.query)["g0.expr"] == [DISK_VALUE]
    assert (value.data["threshold"], value.data["op"], value.data["start"]) == (0.05, "<", starts_at)
    [series] = value.data["series"]
    assert series["labels"] == {"instance": "db1:9100", "job": "node", "mountpoint": "/var", "fstype": "ext4"}
    points = series["points"]
    assert 100 < len(points) <= 200
    for at, ratio in points:
        assert ratio == pytest.approx(disk.avail_at(at) / disk.size_bytes, rel=1e-5), at
    assert points[0][1] == pytest.approx(0.40, abs=0.001) and points[-1][1] < 0.05
    assert value.duration_ms > 0
    # E2: the expression itself: only the points past the threshold.
    assert expression.query == DISK_EXPR and parse_qs(urlsplit(expression.link).query)["g0.expr"] == [DISK_EXPR]
    assert expression.data["series"] and all(v < 0.05 for _, v in expression.data["series"][0]["points"])
    # E3, E4: from our own store.
    assert [a["alertname"] for a in neighbours.data["alerts"]] == ["HighIOWait"]
    assert set(neighbours.data["alerts"][0]["shared"]) == {"instance", "job"}
    assert [o["lasted_s"] for o in earlier_rows.data["occurrences"]] == [1500]
    assert earlier_rows.data["flapping"] is False

    # The answer: citations of unknown ids dropped, hypotheses ranked by confidence.
    result = analysis.result
    assert result["root_cause_evidence"] == ["E1", "E3"]
    assert result["hypotheses"] == [
        {"explanation": "Steady growth of data", "confidence": 0.75, "supports": ["E1"], "contradicts": []},
        {"explanation": "A burst of logs", "confidence": 0.2, "supports": ["E2"], "contradicts": ["E1"]},
    ]
    assert result["inconclusive"] is False
    assert analysis.investigation["datasource"] == "environment" and analysis.investigation["tools"] is False
    assert analysis.investigation["redacted"] is True
    assert took < 10, took


# ---- 2. tool calling


async def test_the_model_calls_tools_and_cites_what_they_found(post_webhook, env, fake, history_prom):
    latency = history_prom.history.latency
    env(PROMETHEUS_URL=history_prom.url, LLM_TOOL_CALLING="on")
    neighbour = am_alert("CheckoutErrors", severity="warning", instance=latency.instance, job=latency.job)

    def investigate(request: RecordedRequest) -> Step:
        # Called by what it is offered: the names and the argument names of the schema.
        assert {"promql_instant", "promql_range", "search_alerts", "alert_history"} <= set(request.tool_names)
        assert {"query", "hours"} <= set(request.tool("promql_range")["parameters"]["properties"])
        assert "labels" in request.tool("search_alerts")["parameters"]["properties"]
        return tool_calls(
            [
                tool_call("promql_range", {"query": latency.p99_query("5m"), "hours": 3}, id="call-range"),
                tool_call("search_alerts", {"labels": {"job": latency.job}}, id="call-search"),
                tool_call("promql_instant", {"query": "rate(http_requests_total[5m]"}, id="call-bad"),
            ]
        )

    def conclude(request: RecordedRequest) -> Step:
        results = request.tool_messages
        assert [m["tool_call_id"] for m in results] == ["call-range", "call-search", "call-bad"]
        cited = [CITED.search(m["content"]).group(1) for m in results[:2]]  # type: ignore[union-attr]
        assert results[2]["content"].startswith("Failed:") and "not valid PromQL" in results[2]["content"]
        answer = {**GOOD_ANALYSIS, "root_cause": "A latency spike", "root_cause_evidence": [*cited, "E77"]}
        return reply_json(answer)

    fake.script(investigate, conclude)
    alert_id, _job, took = await analyse(post_webhook, latency_alert(history_prom), neighbour)
    assert fake.step_errors == []

    first, second = fake.chat_requests
    assert first.tool_messages == [] and len(second.tool_messages) == 3
    range_result, search_result, _bad = second.tool_messages
    assert range_result["content"].startswith('Result (evidence id "E5"):\n<tool-result-')
    assert "max 2.5 at" in range_result["content"]
    assert (
        search_result["content"].startswith('Result (evidence id "E6"):')
        and "CheckoutErrors" in search_result["content"]
    )

    analysis, rows = await stored(alert_id)
    assert [r.kind for r in rows] == [
        "metric_value",
        "metric",
        "related_alerts",
        "history",
        "tool_range",
        "tool_alerts",
    ]
    tool_range, tool_alerts = rows[4:]
    assert tool_range.ref == "E5" and 'http_request_duration_seconds_bucket{job="api"}[5m]' in tool_range.query
    assert tool_range.datasource == "environment" and tool_range.link.startswith(f"{history_prom.url}/graph?")
    values = [v for _, v in tool_range.data["series"][0]["points"]]
    assert max(values) == pytest.approx(latency.spike_p99) and min(values) == pytest.approx(latency.normal_p99)
    assert tool_alerts.ref == "E6" and [a["alertname"] for a in tool_alerts.data["alerts"]] == ["CheckoutErrors"]
    assert analysis.result["root_cause_evidence"] == ["E5", "E6"]
    details = analysis.investigation
    assert (details["tools"], details["steps"], details["stopped"]) == (True, 2, "answered")
    assert [(c["name"], c["ok"], c["evidence_id"]) for c in details["tool_calls"]] == [
        ("promql_range", True, "E5"),
        ("search_alerts", True, "E6"),
        ("promql_instant", False, None),
    ]
    assert took < 15, took


@sqlite_only
@pytest.mark.parametrize("mode", ["on", "off"])
async def test_tool_calling_on_offers_the_tools_and_off_makes_one_plain_call(
    post_webhook, env, fake, history_prom, mode
):
    env(PROMETHEUS_URL=history_prom.url, LLM_TOOL_CALLING=mode)
    alert_id, _job, _took = await analyse(post_webhook, disk_alert(history_prom))
    [request] = fake.chat_requests  # the model answered at once
    if mode == "on":
        assert request.tool_names == ["promql_instant", "promql_range", "search_alerts", "alert_history"]
    else:
        assert "tools" not in request.json and "tool_choice" not in request.json
    analysis, _rows = await stored(alert_id)
    assert analysis.investigation["tools"] is (mode == "on")


@sqlite_only
async def test_without_a_datasource_the_model_calls_only_the_store_tools(post_webhook, env, fake, history_prom):
    env(LLM_TOOL_CALLING="on")
    await analyse(post_webhook, disk_alert(history_prom))
    [request] = fake.chat_requests
    assert request.tool_names == ["search_alerts", "alert_history"]


# ---- 5. datasources from the admin page


@sqlite_only
async def test_an_alert_is_matched_to_a_datasource_by_its_generator_url(
    post_webhook, client, env, fake, history_prom, db
):
    admin = await add_user("test-admin", "admin")
    staging_token, production_password = "glsa_staging-token-0123456789", "prod-viewer-pass-9876"
    empty = Reply(body=b'{"status":"success","data":{"resultType":"matrix","result":[]}}')
    staging_input = datasources.DatasourceInput(
        name="staging", url="", auth="bearer", secret=staging_token, is_default=True
    )
    production_input = datasources.DatasourceInput(
        name="production", url=history_prom.url, auth="basic", username="viewer", secret=production_password
    )
    with CannedServer(empty) as staging, refused_url() as unused:
        env(PROMETHEUS_URL=unused)  # a stored default wins over the environment's
        staging_input.url = staging.url
        async with async_session() as session:
            for data in (staging_input, production_input):
                await datasources.save_datasource(session, data, datasource_id=None, actor=admin)
            await session.commit()
        matched_id, _job, _took = await analyse(post_webhook, disk_alert(history_prom))
        assert staging.requests == []
        elsewhere = disk_alert(history_prom, base="http://prometheus.example:9090")
        other_id, _job, _took = await analyse(post_webhook, elsewhere)

    _analysis, matched = await stored(matched_id)
    assert {r.datasource for r in matched[:2]} == {"production"}
    assert not matched[0].error and matched[0].data["series"][0]["points"][0][1] == pytest.approx(0.40, abs=0.001)
    _analysis, other = await stored(other_id)
    assert {r.datasource for r in other[:2]} == {"staging"} and "no series" in other[0].summary
    assert other[0].link.startswith(f"{staging.url}/graph?")
    assert {r.path.partition("?")[0] for r in staging.requests} == {"/api/v1/query_range"}
    assert {r.headers["Authorization"] for r in staging.requests} == {f"Bearer {staging_token}"}

    stored_rows = db.rows("SELECT name, secret_ciphertext FROM datasources ORDER BY name")
    assert [r["name"] for r in stored_rows] == ["production", "staging"]
    for row, secret in zip(stored_rows, (production_password, staging_token), strict=True):
        assert row["secret_ciphertext"] and secret not in row["secret_ciphertext"]
    audit = json.dumps(db.rows("SELECT * FROM audit_events"), default=str)
    assert staging_token not in audit and production_password not in audit
    assert "staging-token" not in sent_text(fake)


@sqlite_only
async def test_matching_by_host_reads_ports_case_and_ipv6_addresses(env):
    admin = await add_user("test-admin", "admin")
    stored_sources = {
        "v6": "http://[::1]:9090",
        "named": "http://prom.example:9090/prometheus",
        "tls": "https://secure.example",
        "fallback": "http://127.0.0.1:9",
    }
    async with async_session() as session:
        for name, url in stored_sources.items():
            data = datasources.DatasourceInput(name=name, url=url, is_default=name == "fallback")
            await datasources.save_datasource(session, data, datasource_id=None, actor=admin)
        await session.commit()
    expected = {
        "http://[::1]:9090/graph?g0.expr=up": "v6",
        "http://[0:0::1]:9090/graph": "v6",
        "http://PROM.example:9090/graph?g0.expr=up": "named",
        "https://secure.example:443/graph": "tls",
        "http://prom.example:9091/graph": "fallback",  # another port is another Prometheus
        "http://[::1]:9091/graph": "fallback",
        "javascript:alert(1)": "fallback",
        "": "fallback",
    }
    async with async_session() as session:
        found = {url: (await datasources.for_alert(session, url)) for url in expected}
    assert {url: config.name for url, config in found.items() if config is not None} == expected
