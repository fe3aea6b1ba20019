"""services/metrics.py: bounded labels, the queue collector, and multiprocess mode with real processes
(spawned like granian's workers; the test with the real app server is in tests/integration)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from remediation_app.services import metrics

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _no_database(monkeypatch):
    """In this process the queue is never read (the settings' database is the developer's own)."""
    monkeypatch.setattr(metrics, "_queue_counts", lambda: [])


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(found: dict, name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def run_workers(data_dir: Path, tmp_path: Path, **env: str) -> dict:
    environ = {k: v for k, v in os.environ.items() if k != metrics.MULTIPROC_ENV}
    # A database that was never migrated: the queue depth is left out, database_up is 0.
    environ.update(DATABASE_URL=f"sqlite:///{tmp_path / 'blank.db'}", DATA_DIR=str(data_dir), **env)
    done = subprocess.run(
        [sys.executable, "-m", "tests.support.metrics_workers", str(data_dir)],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def assert_workers_add_up(text: str) -> None:
    found = samples(text)
    # Two workers each recorded the same: the scrape (by a third) sees both.
    assert value(found, "remediation_webhook_requests_total", status="200") == 6
    assert value(found, "remediation_webhook_requests_total", status="401") == 2
    assert value(found, "remediation_alerts_ingested_total", action="manual") == 4
    assert value(found, "remediation_alerts_ingested_total", action="ignore") == 2
    assert value(found, "remediation_alerts_ingested_total", action="auto_analyze") == 0
    assert value(found, "remediation_ingest_seconds_count") == 2
    assert value(found, "remediation_analysis_jobs_total", outcome="failed") == 2
    assert value(found, "remediation_analysis_jobs_total", outcome="succeeded") == 2
    assert value(found, "remediation_analysis_jobs_total", outcome="retried") == 0
    assert value(found, "remediation_llm_request_seconds_count", model="model-x") == 2
    assert value(found, "remediation_llm_tokens_total", model="model-x", kind="prompt") == 200
    assert value(found, "remediation_llm_tokens_total", model="model-x", kind="completion") == 40
    assert value(found, "remediation_llm_cost_usd_total", model="model-x") == pytest.approx(0.5)
    # Worker a exited with a session open: live gauges count live workers only.
    assert value(found, "remediation_terminal_sessions_active") == 1
    assert value(found, "remediation_llm_budget_reached") == 1  # b's set(True) is the most recent
    assert value(found, "remediation_metrics_database_up") == 0
    assert not any(name == "remediation_analysis_queue_depth" for name, _ in found)


def test_workers_of_one_server_share_a_directory_under_data_dir(tmp_path):
    data_dir = tmp_path / "data"
    root = data_dir / "metrics" / socket.gethostname()  # per host: replicas may share DATA_DIR
    stale_dead = root / f"{dead_pid()}-12345"  # a server no longer running
    stale_reused = root / f"{os.getpid()}-1"  # a running pid, but not that process: a reused pid
    unrelated = root / "notes"
    for path in (stale_dead, stale_reused, unrelated):
        path.mkdir(parents=True)
        (path / "counter_1.db").write_bytes(b"")

    result = run_workers(data_dir, tmp_path)

    dirs = {result[name]["dir"] for name in ("a", "b", "scrape")}
    assert len(dirs) == 1, dirs
    [shared] = [Path(d) for d in dirs]
    assert shared.parent == root.resolve()
    assert shared.name.startswith(f"{result['server_pid']}-")  # the workers' parent: the server
    assert not stale_dead.exists() and not stale_reused.exists()
    assert unrelated.exists()
    pids = {result["a"]["pid"], result["b"]["pid"]}
    assert {f"counter_{pid}.db" for pid in pids} <= {p.name for p in shared.iterdir()}
    assert_workers_add_up(result["scrape"]["text"])


def test_prometheus_multiproc_dir_wins_when_set(tmp_path):
    chosen = tmp_path / "prom"
    result = run_workers(tmp_path / "data", tmp_path, PROMETHEUS_MULTIPROC_DIR=str(chosen))
    assert {result[name]["dir"] for name in ("a", "b", "scrape")} == {str(chosen)}
    assert not (tmp_path / "data" / "metrics").exists()
    assert_workers_add_up(result["scrape"]["text"])


def test_model_labels_are_cut_and_capped(monkeypatch):
    monkeypatch.setattr(metrics._state, "models", set())
    names = [f"cap-model-{i}" for i in range(metrics.MAX_MODELS + 5)]
    for name in names:
        metrics.record_llm_call(name, 0.1, None, None, None)
    metrics.record_llm_call("cap-model-long" + "y" * 500, 0.1, 1, 1, 0.0)
    found = samples(metrics.render().decode())
    models = {dict(labels).get("model") for name, labels in found if name == "remediation_llm_request_seconds_count"}
    assert set(names[: metrics.MAX_MODELS]) <= models
    assert not set(names[metrics.MAX_MODELS :]) & models
    assert "other" in models
    assert all(model is None or len(model) <= metrics.MODEL_LABEL_MAX for model in models)


def test_unknown_values_map_to_other_and_none_is_skipped():
    before = samples(metrics.render().decode())
    metrics.record_job_outcome("exploded: free text from an exception")
    metrics.record_ingest({"some-new-action": 2}, 0.01)
    metrics.record_llm_call("none-model", 0.5, None, None, None)
    after = samples(metrics.render().decode())
    assert (
        value(after, "remediation_analysis_jobs_total", outcome="other")
        - value(before, "remediation_analysis_jobs_total", outcome="other")
        == 1
    )
    assert (
        value(after, "remediation_alerts_ingested_total", action="other")
        - value(before, "remediation_alerts_ingested_total", action="other")
        == 2
    )
    assert ("remediation_llm_tokens_total", (("kind", "prompt"), ("model", "none-model"))) not in after
    assert value(after, "remediation_llm_request_seconds_count", model="none-model") == 1


def test_terminal_and_budget_gauges():
    before = samples(metrics.render().decode())
    metrics.terminal_session_opened()
    metrics.terminal_session_opened()
    metrics.terminal_session_closed()
    metrics.set_budget_reached(True)
    after = samples(metrics.render().decode())
    assert (
        value(after, "remediation_terminal_sessions_active") - value(before, "remediation_terminal_sessions_active")
        == 1
    )
    assert value(after, "remediation_llm_budget_reached") == 1
    metrics.set_budget_reached(False)
    metrics.terminal_session_closed()
    assert value(samples(metrics.render().decode()), "remediation_llm_budget_reached") == 0


def test_queue_collector_counts_unknown_statuses_as_other_and_survives_errors():
    families = {f.name: f for f in metrics.QueueDepthCollector(lambda: [("pending", 3), ("paused", 2)]).collect()}
    depth = {s.labels["status"]: s.value for s in families["remediation_analysis_queue_depth"].samples}
    assert depth == {"pending": 3, "running": 0, "succeeded": 0, "failed": 0, "cancelled": 0, "other": 2}
    assert families["remediation_metrics_database_up"].samples[0].value == 1

    def broken() -> list[tuple[str, int]]:
        raise ConnectionError("down")

    families = {f.name: f for f in metrics.QueueDepthCollector(broken).collect()}
    assert set(families) == {"remediation_metrics_database_up"}
    assert families["remediation_metrics_database_up"].samples[0].value == 0


def test_an_unwritable_data_dir_leaves_metrics_in_memory(tmp_path, monkeypatch, caplog):
    monkeypatch.delenv(metrics.MULTIPROC_ENV, raising=False)
    data_dir = tmp_path / "not-a-directory"
    data_dir.write_text("a file where DATA_DIR should be")
    assert metrics.setup_multiprocess(data_dir) is None
    assert metrics.multiprocess_dir() is None
    assert metrics.MULTIPROC_ENV not in os.environ
    assert "cannot be created" in caplog.text
    metrics.record_webhook_request(200)  # still counts, in this process
