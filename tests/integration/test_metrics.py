"""GET /metrics in process (one worker): the exposition parses, counters move with webhooks (4xx and
503 answers included), the queue depth is read from the database at scrape time, METRICS_TOKEN is
enforced, and nothing of an alert's content ever becomes a label. Also the per-webhook JSON log line.

The counters belong to the test process and so add up over tests: every test compares a scrape
after with a scrape before.
"""

from __future__ import annotations

import io
import json
import logging
from datetime import UTC, datetime

import pytest
from prometheus_client.parser import text_string_to_metric_families

from remediation_app.logs import configure_logging
from remediation_app.services import metrics
from remediation_app.settings import get_settings
from tests.conftest import WEBHOOK_TOKEN, sqlite_only
from tests.integration.test_health import unreachable_url
from tests.support.payloads import am_alert, notification

pytestmark = pytest.mark.anyio

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    """Every sample of the exposition, keyed by (sample name, sorted labels)."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def scrape(client, **kwargs) -> Samples:
    r = await client.get("/metrics", **kwargs)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    return parse(r.text)


def delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


async def test_exposition_parses_and_names_every_metric(client):
    r = await client.get("/metrics")
    assert r.status_code == 200
    families = {family.name: family.type for family in text_string_to_metric_families(r.text)}
    assert families == {
        "remediation_webhook_requests": "counter",
        "remediation_alerts_ingested": "counter",
        "remediation_ingest_seconds": "histogram",
        "remediation_analysis_jobs": "counter",
        "remediation_llm_request_seconds": "histogram",
        "remediation_llm_tokens": "counter",
        "remediation_llm_cost_usd": "counter",
        "remediation_terminal_sessions_active": "gauge",
        "remediation_llm_budget_reached": "gauge",
        "remediation_storm_calls_saved": "counter",
        "remediation_notify_deliveries": "counter",
        "remediation_alertmanager_silences": "counter",
        "remediation_alertmanager_syncs": "counter",
        "remediation_analysis_queue_depth": "gauge",
        "remediation_metrics_database_up": "gauge",
    }
    samples = parse(r.text)
    for outcome in ("succeeded", "failed", "retried", "cancelled"):  # present from the start, for rate()
        assert ("remediation_analysis_jobs_total", (("outcome", outcome),)) in samples
    assert value(samples, "remediation_metrics_database_up") == 1


async def test_webhook_answers_are_counted_by_status_and_alerts_by_action(client, anon, post_webhook, app_env):
    before = await scrape(client)
    stored = notification(
        am_alert("DiskFull", severity="critical"),  # default rules: auto_analyze
        am_alert("HighCPU", severity="warning"),  # manual
        am_alert("Watchdog", severity="none"),  # ignore
    )
    assert (await post_webhook(stored)).status_code == 200
    assert (await post_webhook({"alerts": "not a list"})).status_code == 422
    assert (await anon.post("/webhook/alerts", json=stored)).status_code == 401
    assert (await post_webhook(b"{not json")).status_code == 400
    app_env(WEBHOOK_MAX_BODY_BYTES="1024")
    assert (await post_webhook(b"[" + b" " * 2048 + b"]")).status_code == 413
    after = await scrape(client)

    counted = "remediation_webhook_requests_total"
    assert {status: delta(before, after, counted, status=status) for status in ("200", "400", "401", "413", "422")} == {
        "200": 1,
        "400": 1,
        "401": 1,
        "413": 1,
        "422": 1,
    }
    ingested = "remediation_alerts_ingested_total"
    assert delta(before, after, ingested, action="auto_analyze") == 1
    assert delta(before, after, ingested, action="manual") == 1
    assert delta(before, after, ingested, action="ignore") == 1
    # One stored notification timed (the rejected ones are not ingests).
    assert delta(before, after, "remediation_ingest_seconds_count") == 1
    assert delta(before, after, "remediation_ingest_seconds_bucket", le="+Inf") == 1
    assert delta(before, after, "remediation_ingest_seconds_sum") > 0
    # Only the webhook path is counted.
    assert sum(v for (name, _), v in after.items() if name == counted) - sum(
        v for (name, _), v in before.items() if name == counted
    ) == pytest.approx(5)


async def test_a_503_is_counted_and_metrics_still_answer_without_the_database(client, post_webhook, app_env, db_kind):
    before = await scrape(client)
    app_env(DATABASE_URL=unreachable_url(db_kind))
    assert (await post_webhook(notification(am_alert()))).status_code == 503
    after = await scrape(client)
    assert delta(before, after, "remediation_webhook_requests_total", status="503") == 1
    assert value(after, "remediation_metrics_database_up") == 0
    assert not any(name == "remediation_analysis_queue_depth" for name, _ in after)


async def test_queue_depth_is_omitted_before_the_table_exists(client, app_env, blank_database_url):
    app_env(DATABASE_URL=blank_database_url)
    samples = await scrape(client)
    assert value(samples, "remediation_metrics_database_up") == 0
    assert not any(name == "remediation_analysis_queue_depth" for name, _ in samples)


def _add_job(db, alert_id: int, status: str) -> None:
    now = datetime.now(UTC).replace(tzinfo=None)
    finished = now if status in ("succeeded", "failed", "cancelled") else None
    db.execute(
        "INSERT INTO analysis_jobs (alert_id, fingerprint, status, provider_id, automatic, requested_by,"
        " requested_by_user_id, attempts, max_attempts, next_attempt_at, lease_expires_at, locked_by, last_error,"
        " created_at, updated_at, finished_at) VALUES (:alert_id, 'fp', :status, NULL, true, '', NULL, 0, 4, :now,"
        " NULL, '', '', :now, :now, :finished)",
        alert_id=alert_id,
        status=status,
        now=now,
        finished=finished,
    )


async def test_queue_depth_reflects_the_rows_at_scrape_time(client, post_webhook, db):
    alerts = [am_alert(f"Queue{i}", severity="warning") for i in range(3)]  # manual: nothing queued by rules
    assert (await post_webhook(notification(*alerts))).status_code == 200
    ids = [row["id"] for row in db.alerts()][-3:]
    for alert_id, status in [
        (ids[0], "pending"),
        (ids[1], "pending"),
        (ids[2], "running"),
        (ids[0], "failed"),
        (ids[1], "succeeded"),
        (ids[2], "succeeded"),
        (ids[2], "cancelled"),
    ]:
        _add_job(db, alert_id, status)
    in_table = {
        row["status"]: row["n"] for row in db.rows("SELECT status, count(*) AS n FROM analysis_jobs GROUP BY 1")
    }
    assert in_table["pending"] >= 2 and in_table["succeeded"] >= 2

    samples = await scrape(client)
    depth = {
        status: value(samples, "remediation_analysis_queue_depth", status=status)
        for status in ("pending", "running", "succeeded", "failed", "cancelled")
    }
    assert depth == {status: in_table.get(status, 0) for status in depth}
    assert value(samples, "remediation_metrics_database_up") == 1

    db.execute("DELETE FROM analysis_jobs WHERE status = 'pending'")
    assert value(await scrape(client), "remediation_analysis_queue_depth", status="pending") == 0


@sqlite_only
async def test_metrics_token_is_required_when_set(client, anon, app_env):
    assert (await anon.get("/metrics")).status_code == 200  # open by default
    app_env(METRICS_TOKEN="metrics-secret")
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic bWV0cmljczpzZWNyZXQ="}):
        r = await anon.get("/metrics", headers=headers)
        assert r.status_code == 401, headers
        assert r.headers["WWW-Authenticate"].startswith("Bearer")
        assert "remediation_" not in r.text
    # A logged-in admin's token is not the metrics token either.
    assert (await client.get("/metrics")).status_code == 401
    r = await anon.get("/metrics", headers={"Authorization": "Bearer metrics-secret"})
    assert r.status_code == 200
    assert "remediation_webhook_requests_total" in r.text
    assert "metrics-secret" not in r.text


async def test_nothing_of_an_alert_becomes_a_label(client, post_webhook):
    fingerprint = "f1n6e6p61n7c0ffee"
    alert = am_alert(
        "LabelLeakCheckAlertname",
        severity="critical",
        instance="leak-check-instance.example:9100",
        job="leak-check-job",
        fingerprint=fingerprint,
        labels={"team": "leak-check-team"},
        annotations={"summary": "leak-check-summary"},
    )
    payload = notification(alert, receiver="leak-check-receiver")
    assert (await post_webhook(payload)).status_code == 200
    metrics.record_llm_call("leak-check-model " + "x" * 300, 1.5, 120, 30, 0.002)
    text = (await client.get("/metrics")).text
    for secret in (fingerprint, "LabelLeakCheck", "leak-check-instance", "leak-check-job", "leak-check-team"):
        assert secret not in text
    for secret in ("leak-check-summary", "leak-check-receiver", WEBHOOK_TOKEN):
        assert secret not in text
    # Model names are labels, but cut to 100 characters.
    models = {
        sample.labels["model"]
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if "model" in sample.labels
    }
    assert all(len(model) <= metrics.MODEL_LABEL_MAX for model in models)
    assert ("leak-check-model " + "x" * 300)[: metrics.MODEL_LABEL_MAX] in models


@sqlite_only
async def test_one_json_log_line_per_webhook_with_the_counts_and_no_secret(post_webhook, app_env, monkeypatch):
    app_env(LOG_FORMAT="json")
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    root = logging.getLogger("remediation_app")
    saved = (root.handlers[:], root.level, root.propagate)
    configure_logging(get_settings())
    try:
        payload = notification(am_alert("LogLineA", severity="warning"), am_alert("Watchdog", severity="none"))
        assert (await post_webhook(payload)).status_code == 200
    finally:
        root.handlers[:], root.level, root.propagate = saved
    lines = [line for line in stream.getvalue().splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    stored = [entry for entry in entries if entry["msg"] == "notification stored"]
    assert len(stored) == 1, lines
    [entry] = stored
    assert entry["level"] == "info" and entry["logger"] == "remediation_app.services.alerts.ingest"
    assert entry["alerts"] == 2 and entry["alerts_created"] == 2 and entry["alerts_updated"] == 0
    assert entry["by_action"] == {"manual": 1, "ignore": 1}
    assert WEBHOOK_TOKEN not in stream.getvalue()
    assert "Bearer" not in stream.getvalue()
