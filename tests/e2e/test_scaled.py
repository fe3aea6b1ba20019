"""Two workers behind one port, Redis and PostgreSQL: a webhook taken by either worker reaches
every open dashboard, whichever worker holds that tab's websocket.

Each webhook goes out on a fresh connection and the test finds (from the sockets) which worker
accepted it, posting until both workers took some. A tab's websocket lives on one worker, so
every tab gets pushes from a webhook that the other worker took: the cross-process path.
"""

from __future__ import annotations

import time
from collections import Counter

import httpx
import pytest
import redis

from tests.e2e.conftest import SCALED_WORKERS, post_alerts, unique
from tests.support.app_server import AppServer
from tests.support.browser import expect_pushed
from tests.support.payloads import am_alert, notification

pytestmark = [pytest.mark.e2e, pytest.mark.pg, pytest.mark.redis]

POSTS_PER_WORKER = 2
MAX_POSTS = 30  # fresh connections until every worker took POSTS_PER_WORKER webhooks


def post_on_new_connection(app: AppServer, payload: dict) -> int:
    """POST the webhook on a fresh TCP connection; returns the pid of the worker that served it."""
    with httpx.Client(base_url=app.url) as client:
        # Open the connection first and find which worker accepted it; keep-alive keeps the POST there.
        ping = client.get("/healthz")
        ping.raise_for_status()
        client_port = ping.extensions["network_stream"].get_extra_info("client_addr")[1]
        worker = app.worker_serving(client_port)
        post_alerts(app, payload, client=client)
    assert worker is not None, f"no worker of {app.worker_pids()} holds the connection from port {client_port}"
    return worker


def test_every_tab_gets_every_alert_whichever_worker_took_it(scaled_app, new_tab):
    tabs = [new_tab(), new_tab()]
    pages = [tab.open_dashboard(scaled_app) for tab in tabs]
    for tab in tabs:
        tab.mark()
    # Reflex keeps each tab's state in Redis (its Redis state manager), not in one worker's memory.
    with redis.Redis.from_url(scaled_app.env["REDIS_URL"]) as client:
        assert len(client.keys("*_reflex___state____state")) >= len(tabs)

    served: Counter[int] = Counter()
    for _ in range(MAX_POSTS):
        name = unique("Scaled")
        served[post_on_new_connection(scaled_app, notification(am_alert(name)))] += 1
        expect_pushed(pages, name, since=time.monotonic())
        if len(served) == SCALED_WORKERS and min(served.values()) >= POSTS_PER_WORKER:
            break
    assert len(served) == SCALED_WORKERS and min(served.values()) >= POSTS_PER_WORKER, (
        f"webhooks per worker: {dict(served)} (workers {scaled_app.worker_pids()})"
    )
    assert all(tab.still_same_document() for tab in tabs)
