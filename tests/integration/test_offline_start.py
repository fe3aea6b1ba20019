"""No network at all after the first build (issue 13): `make run`'s start, in a network namespace
whose only interface is loopback (`unshare --net`, `lo` up), serves the frontend it built before,
its pages and the webhook, and builds nothing.

The image's start (no bun, no Node.js, the build's node_modules gone, `--network none`) is the
same test in test_deployment.py (the entrypoint, run for real).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import WEBHOOK_TOKEN, require, require_tool
from tests.support import netns
from tests.support.app_server import BIN, HOST, ROOT, TOOLS_BIN, AppServer, started_app

pytestmark = pytest.mark.slow

READY_DEADLINE_S = 120  # a start with nothing to build takes seconds; a busy 2-core machine, slower


@pytest.fixture(scope="module")
def built_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    """The app, started once with the network (its frontend built then), and stopped."""
    require_tool(str(TOOLS_BIN / "bun"))
    require(netns.available() is None, str(netns.available()))
    with started_app(tmp_path_factory.mktemp("offline"), "offline", env={"WEBHOOK_TOKEN": WEBHOOK_TOKEN}) as server:
        assert server.build_marker() is not None
        server.stop()
        yield server


def test_a_start_without_any_network_serves_pages_and_webhook(built_app: AppServer):
    marker = built_app.build_marker()
    log_path = built_app.log_path.with_name("offline-start.log")
    argv = [str(BIN / "python"), "-m", "remediation_app", "serve", "--loglevel", "info", "--backend-host", HOST]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            netns.offline(argv),
            cwd=ROOT,
            env=built_app.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        found = netns.probe(proc.pid, built_app.url, WEBHOOK_TOKEN, READY_DEADLINE_S)
        log_text = log_path.read_text(errors="replace")
        assert found["ready"], log_text[-4000:]
        assert found["healthz"] == {"status": "ok"}
        assert found["login"] == [200, True]
        assert found["asset"] == 200  # the bundle's files, from the build made before
        assert found["webhook"][0] == 200 and found["webhook"][1]["created"] == 1, found["webhook"]
        assert found["metrics_webhook_200"]
        assert proc.poll() is None, log_text[-4000:]
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    log_text = log_path.read_text(errors="replace")
    # Nothing was built, installed or fetched: the build's own marker is the one written before.
    assert built_app.build_marker() == marker, log_text[-4000:]
    assert "serving the build" in log_text and "building the frontend" not in log_text
    assert built_app.db_rows("SELECT count(*) AS n FROM alerts WHERE alertname = 'OfflineStart'") == [{"n": 1}]


def test_a_start_that_would_need_a_build_without_bun_says_why(built_app: AppServer, tmp_path: Path):
    """A stale build where no bun is (the image started with other settings): a clear refusal,
    at once, instead of a failed download."""
    env = {
        **built_app.env,
        "PATH": f"{BIN}:/usr/bin:/bin",  # no .tools/ (bun)
        "REFLEX_API_URL": "https://alerts.example.com",  # baked into the build: it no longer matches
    }
    done = subprocess.run(
        [str(BIN / "python"), "-m", "remediation_app", "serve", "--backend-host", HOST],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "cannot start:" in done.stderr and "no bun here to build it" in done.stderr, done.stderr
    assert "https://alerts.example.com" in done.stderr  # what it was asked for, next to what it has
