"""/metrics on the real app (`reflex run --env prod`) with two granian workers: whichever worker
takes a webhook and whichever answers the scrape, the counts are the sum over both workers.

Each request goes out on a fresh connection and the test finds (from the sockets) which worker
accepted it, until both workers took webhooks and both answered scrapes.
"""

from __future__ import annotations

import shutil
import socket
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import WEBHOOK_TOKEN, require_tool
from tests.support.app_server import TOOLS_BIN, AppServer
from tests.support.databases import sqlite_url
from tests.support.payloads import am_alert, notification

pytestmark = pytest.mark.slow

WORKERS = 2
MAX_TRIES = 40


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    require_tool(str(TOOLS_BIN / "bun"))
    tmp = tmp_path_factory.mktemp("metrics-workers")
    server = AppServer(
        database_url=sqlite_url(tmp),
        data_dir=tmp / "data",
        name="metrics-workers",
        # No Redis: nothing here needs a shared UI state; the metrics need only the shared files.
        env={"WEBHOOK_TOKEN": WEBHOOK_TOKEN, "GRANIAN_WORKERS": str(WORKERS)},
        log_dir=tmp,
        work_dir=tmp / "reflex",
    )
    try:
        server.start()
        assert len(server.worker_pids()) == WORKERS, server.worker_pids()
        yield server
    finally:
        server.stop()
        shutil.rmtree(tmp / "reflex", ignore_errors=True)  # the frontend build


def on_new_connection(app: AppServer, method: str, path: str, **kwargs) -> tuple[int, httpx.Response]:
    """One request on a fresh connection: (pid of the worker that served it, response)."""
    with httpx.Client(base_url=app.url, timeout=30) as client:
        ping = client.get("/healthz")
        client_port = ping.extensions["network_stream"].get_extra_info("client_addr")[1]
        worker = app.worker_serving(client_port)
        response = client.request(method, path, **kwargs)
    assert worker is not None, f"no worker of {app.worker_pids()} holds the connection from port {client_port}"
    return worker, response


def counts(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_counts_add_up_across_workers(two_workers: AppServer):
    app = two_workers
    auth = {"Authorization": f"Bearer {WEBHOOK_TOKEN}"}
    stored: Counter[int] = Counter()
    refused: Counter[int] = Counter()
    for i in range(MAX_TRIES):
        worker, r = on_new_connection(
            app, "POST", "/webhook/alerts", json=notification(am_alert(f"Scaled{i}")), headers=auth
        )
        assert r.status_code == 200, r.text
        stored[worker] += 1
        worker, r = on_new_connection(app, "POST", "/webhook/alerts", json=notification(am_alert()))
        assert r.status_code == 401
        refused[worker] += 1
        if len(stored) == WORKERS and len(refused) == WORKERS and min(stored.values()) >= 2:
            break
    assert len(stored) == WORKERS and len(refused) == WORKERS, (dict(stored), dict(refused))

    # Scrape until both workers answered once: each sees every worker's counts.
    scrapes: dict[int, dict] = {}
    for _ in range(MAX_TRIES):
        worker, r = on_new_connection(app, "GET", "/metrics")
        assert r.status_code == 200, r.text
        scrapes[worker] = counts(r.text)
        if len(scrapes) == WORKERS:
            break
    assert len(scrapes) == WORKERS, list(scrapes)
    for worker, found in scrapes.items():
        assert found[("remediation_webhook_requests_total", (("status", "200"),))] == sum(stored.values()), worker
        assert found[("remediation_webhook_requests_total", (("status", "401"),))] == sum(refused.values()), worker
        assert found[("remediation_alerts_ingested_total", (("action", "manual"),))] == sum(stored.values())
        assert found[("remediation_ingest_seconds_count", ())] == sum(stored.values())
        assert found[("remediation_metrics_database_up", ())] == 1
        assert found[("remediation_analysis_queue_depth", (("status", "pending"),))] >= 0

    # The files live under DATA_DIR/metrics/<host>/<server pid>-<start>, one set per worker.
    assert app.proc is not None
    [run_dir] = list(Path(app.data_dir, "metrics", socket.gethostname()).iterdir())
    assert run_dir.name.startswith(f"{app.proc.pid}-")
    assert {f"counter_{pid}.db" for pid in app.worker_pids()} <= {p.name for p in run_dir.iterdir()}
