"""No alert lost or stored twice when the serving process is killed (`kill -9`) under webhook load,
on PostgreSQL: Alertmanager resends a notification until it gets a 2xx, and the engine answers 2xx
only after its transaction committed.

The load is sent like Alertmanager does: each notification is retried (after any error, 5xx or
connection refused) until a 2xx. Mid-load the process that serves is killed; it comes back (respawned
by the server, or restarted here as a service manager would when the whole app exited).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import WEBHOOK_TOKEN, require, require_tool
from tests.support.app_server import TOOLS_BIN, AppServer, started_app
from tests.support.databases import postgres_available, temporary_postgres
from tests.support.payloads import am_alert, notification

pytestmark = [pytest.mark.slow, pytest.mark.pg]

PAYLOADS, ALERTS_EACH = 60, 10
DEADLINE_S = 240  # the whole load, kill and recovery included, on a busy 2-core machine


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    require_tool(str(TOOLS_BIN / "bun"))
    require(postgres_available(), "PostgreSQL is not reachable on 127.0.0.1:5432")
    tmp = tmp_path_factory.mktemp("kill-under-load")
    with (
        temporary_postgres("re_kill") as database_url,
        started_app(tmp, "kill-under-load", env={"WEBHOOK_TOKEN": WEBHOOK_TOKEN}, database_url=database_url) as server,
    ):
        yield server


class Alertmanager(threading.Thread):
    """Posts the notifications in order, each until it is acknowledged with a 2xx."""

    def __init__(self, app: AppServer, payloads: list[dict]) -> None:
        super().__init__(daemon=True)
        self.app, self.payloads = app, payloads
        self.acknowledged = 0
        self.failures = 0
        self.half_way = threading.Event()

    def run(self) -> None:
        deadline = time.monotonic() + DEADLINE_S
        headers = {"Authorization": f"Bearer {WEBHOOK_TOKEN}"}
        with httpx.Client(base_url=self.app.url, headers=headers, timeout=30) as client:
            for payload in self.payloads:
                while time.monotonic() < deadline:
                    try:
                        if client.post("/webhook/alerts", json=payload).is_success:
                            break
                    except httpx.HTTPError:
                        pass
                    self.failures += 1
                    time.sleep(0.2)  # Alertmanager backs off before it resends
                else:
                    return
                self.acknowledged += 1
                if self.acknowledged == len(self.payloads) // 3:
                    self.half_way.set()


def serving_pid(app: AppServer) -> int:
    assert app.proc is not None
    workers = app.worker_pids()
    return workers[0] if workers else app.proc.pid


def test_kill_9_under_load_loses_and_duplicates_nothing(app: AppServer):
    payloads = [
        notification(*(am_alert(f"KillLoad{n:02d}", fingerprint=f"kill{n:02d}{i:02d}") for i in range(ALERTS_EACH)))
        for n in range(PAYLOADS)
    ]
    sender = Alertmanager(app, payloads)
    sender.start()
    assert sender.half_way.wait(DEADLINE_S), "the load did not get going"
    killed = serving_pid(app)
    os.kill(killed, signal.SIGKILL)
    # A service manager restarts an app that exited; a respawning server needs nothing.
    deadline = time.monotonic() + DEADLINE_S
    while app.proc is not None and app.proc.poll() is None and sender.is_alive() and time.monotonic() < deadline:
        sender.join(0.5)
    if app.proc is not None and app.proc.poll() is not None:
        app.start()
    sender.join(DEADLINE_S)
    assert not sender.is_alive() and sender.acknowledged == PAYLOADS, (sender.acknowledged, app.log_tail())
    rows = app.db_rows(
        "SELECT fingerprint, count(*) AS n FROM alerts WHERE alertname LIKE 'KillLoad%' GROUP BY fingerprint"
    )
    assert len(rows) == PAYLOADS * ALERTS_EACH  # none lost
    assert {r["n"] for r in rows} == {1}  # none stored twice
    assert serving_pid(app) != killed  # another process serves now: the kill happened under load
