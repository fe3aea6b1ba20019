"""Browser end-to-end fixtures: the real app (`python -m remediation_app serve`) and Debian's chromium.

`app`: one worker on a temporary SQLite database, in-process event bus (the embedded default).
`scaled_app`: two granian workers on a fresh PostgreSQL database, with Redis (Reflex's Redis state
manager and the Redis event bus) on a Redis database of its own that is emptied afterwards.
Both are started on first use, once per session, and always stopped. Tests share them, so each
test names its alerts uniquely (`unique`) and never depends on another test's rows.
"""

from __future__ import annotations

import contextlib
import random
import signal
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from playwright.sync_api import Browser, sync_playwright

from tests.conftest import WEBHOOK_TOKEN, require, require_tool
from tests.support.app_server import AppServer, started_app
from tests.support.browser import CHROMIUM, Tab, launch
from tests.support.databases import postgres_available, temporary_postgres

REDIS = "redis://127.0.0.1:6379"
SCALED_WORKERS = 2
E2E_DIR = Path(__file__).resolve().parent


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the tests of this directory after all others (in their own order). While the session's
    sync Playwright is open it marks the thread's asyncio loop as running, so an async test or an
    asyncio.run() after it would fail: "Cannot run the event loop while another loop is running"."""
    items[:] = sorted(items, key=lambda item: item.path.is_relative_to(E2E_DIR))


def unique(prefix: str) -> str:
    """An alertname no other test (or earlier run) uses."""
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def post_alerts(app: AppServer, payload: dict[str, Any], client: httpx.Client | None = None) -> httpx.Response:
    """POST a notification to the webhook with the bearer token; asserts the 200."""
    headers = {"Authorization": f"Bearer {WEBHOOK_TOKEN}"}
    if client is None:
        response = httpx.post(f"{app.url}/webhook/alerts", json=payload, headers=headers, timeout=30)
    else:
        response = client.post(f"{app.url}/webhook/alerts", json=payload, headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    return response


@pytest.fixture(scope="session")
def _stop_on_sigterm() -> Iterator[None]:
    """A SIGTERM (CI timeout, `kill`) unwinds like Ctrl-C, so the servers' finalizers still run."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    yield
    signal.signal(signal.SIGTERM, previous)


@pytest.fixture(scope="session")
def app(tmp_path_factory: pytest.TempPathFactory, _stop_on_sigterm: None) -> Iterator[AppServer]:
    with started_app(tmp_path_factory.mktemp("e2e-app"), "e2e", env={"WEBHOOK_TOKEN": WEBHOOK_TOKEN}) as server:
        assert len(server.worker_pids()) == 1, "the embedded default runs one worker"
        yield server


def _redis_available() -> bool:
    try:
        with redis.Redis.from_url(REDIS, socket_connect_timeout=2) as client:
            return bool(client.ping())
    except redis.RedisError:
        return False


@contextlib.contextmanager
def _private_redis_db() -> Iterator[int]:
    """An empty Redis database (never 0), claimed with SET NX so that a concurrent run picks another;
    emptied afterwards (only that database: never FLUSHALL)."""
    candidates = list(range(1, 16))
    random.shuffle(candidates)
    claim = f"remediation-e2e-claim:{uuid.uuid4().hex}"
    for db in candidates:
        client = redis.Redis.from_url(f"{REDIS}/{db}")
        try:
            if client.dbsize() == 0 and client.set("remediation-e2e-claim", claim, nx=True):
                break
        finally:
            client.close()
    else:
        pytest.fail("no empty Redis database among 1-15 for the scaled e2e app")
    try:
        yield db
    finally:
        with redis.Redis.from_url(f"{REDIS}/{db}") as client:
            if client.get("remediation-e2e-claim") == claim.encode():
                client.flushdb()


@pytest.fixture(scope="session")
def scaled_app(tmp_path_factory: pytest.TempPathFactory, _stop_on_sigterm: None) -> Iterator[AppServer]:
    require(postgres_available(), "PostgreSQL is not reachable on 127.0.0.1:5432")
    require(_redis_available(), f"Redis is not reachable at {REDIS}")
    tmp = tmp_path_factory.mktemp("e2e-scaled")
    with _private_redis_db() as redis_db, temporary_postgres("re_e2e") as database_url:
        env = {
            "WEBHOOK_TOKEN": WEBHOOK_TOKEN,
            "REDIS_URL": f"{REDIS}/{redis_db}",
            "GRANIAN_WORKERS": str(SCALED_WORKERS),
        }
        with started_app(tmp, "e2e-scaled", env=env, database_url=database_url) as server:
            workers = server.worker_pids()
            assert len(workers) == SCALED_WORKERS, f"expected {SCALED_WORKERS} worker processes, got {workers}"
            yield server


@pytest.fixture(scope="session")
def browser(_stop_on_sigterm: None) -> Iterator[Browser]:
    require_tool(CHROMIUM)
    with sync_playwright() as playwright:
        chromium = launch(playwright)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def new_tab(browser: Browser) -> Iterator[Callable[..., Tab]]:
    """Open tabs (each in its own context; keyword arguments go to Tab); all closed after the test,
    and none may log a page error."""
    tabs: list[Tab] = []

    def open_tab(**options: Any) -> Tab:
        tab = Tab(browser, **options)
        tabs.append(tab)
        return tab

    yield open_tab
    errors = [error for tab in tabs for error in tab.errors]
    for tab in tabs:
        tab.close()
    assert not errors, f"uncaught errors in the page: {errors}"
