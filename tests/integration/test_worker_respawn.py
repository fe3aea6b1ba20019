"""What keeps the app up when its serving process dies (issue 11 item 7, revisited in issue 13).

- One worker (the default): the app is one process, with no supervisor beside it (a second Python
  process that only waits costs ~100 MB). `kill -9` ends it; the service manager starts it again
  (compose: `restart: unless-stopped`, systemd: `Restart=always`, both checked in
  test_deployment.py). Here the test restarts it as they would: it is healthy again well within
  a generous bound, builds nothing (the build's own marker is unchanged) and stores alerts.
- Several workers (GRANIAN_WORKERS=2): granian's supervisor forks them and respawns one that is
  killed with SIGKILL, under the *same* supervisor; the webhook still stores alerts afterwards.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import httpx
import psutil
import pytest

from tests.conftest import WEBHOOK_TOKEN, require_tool
from tests.support.app_server import TOOLS_BIN, AppServer, started_app
from tests.support.payloads import am_alert, notification

pytestmark = pytest.mark.slow

RESPAWN_DEADLINE_S = 120  # a busy 2-core machine; a respawn usually takes a few seconds
RESTART_SANITY_S = 60  # a restart with nothing to build takes seconds (bench/startup.py measures it)


def store_alert(app: AppServer, name: str) -> None:
    response = httpx.post(
        f"{app.url}/webhook/alerts",
        json=notification(am_alert(name)),
        headers={"Authorization": f"Bearer {WEBHOOK_TOKEN}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 1
    assert app.db_rows("SELECT count(*) AS n FROM alerts WHERE alertname = :name", name=name) == [{"n": 1}]


# --- one worker: one process, restarted by the service manager --------------------------------------


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    require_tool(str(TOOLS_BIN / "bun"))
    with started_app(tmp_path_factory.mktemp("respawn"), "respawn", env={"WEBHOOK_TOKEN": WEBHOOK_TOKEN}) as server:
        yield server


def test_the_default_app_is_one_process(app: AppServer):
    assert app.proc is not None
    server = psutil.Process(app.proc.pid)
    assert server.cmdline()[1:4] == ["-m", "remediation_app", "serve"]
    assert server.children(recursive=True) == []  # no worker, no build, no supervisor: one process
    assert app.worker_pids() == [app.proc.pid]


def test_after_kill_9_a_restart_serves_again_quickly_and_builds_nothing(app: AppServer):
    assert app.proc is not None
    store_alert(app, "BeforeTheKill")
    marker = app.build_marker()
    assert marker is not None
    killed = app.proc.pid

    os.kill(killed, signal.SIGKILL)
    assert app.proc.wait(timeout=30) == -signal.SIGKILL  # nothing inside the app outlives it

    started = time.monotonic()
    app.start()  # what `restart: unless-stopped` / `Restart=always` do
    assert time.monotonic() - started < RESTART_SANITY_S
    assert app.proc.pid != killed
    assert app.build_marker() == marker  # served as built before: no frontend build ran
    assert "serving the build" in app.log_text() and "building the frontend" not in app.log_text()
    store_alert(app, "AfterTheRestart")


# --- several workers: granian respawns a killed one ----------------------------------------------------


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    require_tool(str(TOOLS_BIN / "bun"))
    # No Redis: nothing here needs a shared UI state (the webhook and /healthz only).
    env = {"WEBHOOK_TOKEN": WEBHOOK_TOKEN, "GRANIAN_WORKERS": "2"}
    with started_app(tmp_path_factory.mktemp("respawn-workers"), "respawn-workers", env=env) as server:
        yield server


def serving_worker(app: AppServer) -> int | None:
    """The pid of the worker that answers /healthz (on one kept-alive connection), or None."""
    try:
        with httpx.Client(base_url=app.url, timeout=5) as client:
            if client.get("/healthz").status_code != 200:
                return None
            ping = client.get("/healthz")
            client_port = ping.extensions["network_stream"].get_extra_info("client_addr")[1]
            return app.worker_serving(client_port)
    except httpx.HTTPError:
        return None


def test_a_killed_worker_is_respawned_under_the_same_supervisor(two_workers: AppServer):
    app = two_workers
    assert app.proc is not None
    supervisor = psutil.Process(app.proc.pid)
    assert supervisor.cmdline()[1:4] == ["-m", "remediation_app", "serve"]
    store_alert(app, "BeforeTheWorkerKill")
    workers = app.worker_pids()
    assert len(workers) == 2 and app.proc.pid not in workers
    old_worker = workers[0]

    os.kill(old_worker, signal.SIGKILL)

    deadline = time.monotonic() + RESPAWN_DEADLINE_S
    while True:
        assert app.proc.poll() is None, f"the supervisor exited:\n{app.log_tail()}"
        assert time.monotonic() < deadline, f"no new worker within {RESPAWN_DEADLINE_S}s:\n{app.log_tail()}"
        current = app.worker_pids()
        if len(current) == 2 and old_worker not in current and serving_worker(app) is not None:
            break
        time.sleep(0.5)

    assert not psutil.pid_exists(old_worker) or psutil.Process(old_worker).status() == psutil.STATUS_ZOMBIE
    assert psutil.Process(app.proc.pid).create_time() == supervisor.create_time()  # the same process
    store_alert(app, "AfterTheRespawn")
