"""A killed worker is respawned (issue 11 item 7): `python -m remediation_app serve` (what `make
run`, the image and every e2e test start) runs Reflex's prod server with granian respawning
failed workers. Reflex's own `reflex run --env prod` exits when its only worker dies.

The test kills the granian worker with SIGKILL (no chance to clean up), then polls /healthz with
a generous deadline until a *new* worker answers, under the *same* supervisor; the webhook still
stores alerts afterwards.
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


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    require_tool(str(TOOLS_BIN / "bun"))
    with started_app(tmp_path_factory.mktemp("respawn"), "respawn", env={"WEBHOOK_TOKEN": WEBHOOK_TOKEN}) as server:
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


def test_a_killed_worker_is_respawned_under_the_same_supervisor(app: AppServer):
    assert app.proc is not None
    supervisor = psutil.Process(app.proc.pid)
    assert supervisor.cmdline()[1:4] == ["-m", "remediation_app", "serve"]
    store_alert(app, "BeforeTheKill")
    [old_worker] = app.worker_pids()
    assert serving_worker(app) == old_worker

    os.kill(old_worker, signal.SIGKILL)

    deadline = time.monotonic() + RESPAWN_DEADLINE_S
    new_worker = None
    while new_worker in (None, old_worker):
        assert app.proc.poll() is None, f"the supervisor exited:\n{app.log_tail()}"
        assert time.monotonic() < deadline, f"no new worker answered within {RESPAWN_DEADLINE_S}s:\n{app.log_tail()}"
        time.sleep(0.5)
        new_worker = serving_worker(app)

    assert not psutil.pid_exists(old_worker) or psutil.Process(old_worker).status() == psutil.STATUS_ZOMBIE
    assert app.proc.poll() is None
    assert psutil.Process(app.proc.pid).create_time() == supervisor.create_time()  # the same process
    assert app.worker_pids() == [new_worker]
    store_alert(app, "AfterTheRespawn")
