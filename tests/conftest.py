"""Shared fixtures. Under CI=true a missing service or tool fails the test instead of skipping it."""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from http.cookiejar import CookieJar, DefaultCookiePolicy
from pathlib import Path
from typing import Any

import httpx
import pytest

from remediation_app.db import dispose_engines, sync_engine
from remediation_app.services import migrations
from remediation_app.settings import get_settings
from tests.support.databases import (
    DatabaseProbe,
    PostgresPool,
    copy_sqlite,
    create_postgres,
    database_kind,
    drop_postgres,
    postgres_available,
    postgres_url,
    sqlite_url,
    temporary_postgres,
)

CI = os.environ.get("CI", "").lower() == "true"
WEBHOOK_TOKEN = "test-webhook-token"


def require(condition: bool, why: str) -> None:
    """Skip locally, fail in CI: nothing silently skips there."""
    if not condition:
        if CI:
            pytest.fail(f"required in CI: {why}")
        pytest.skip(why)


def require_tool(name: str) -> str:
    path = shutil.which(name) or (name if os.path.exists(name) else None)
    require(path is not None, f"{name} is not installed (make test-deps)")
    assert path is not None
    return path


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _migrate_closed(url: str) -> None:
    migrations.upgrade(url)
    sync_engine(url).dispose()  # a template must have no open connection when it is copied


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One migrated SQLite file per session; each test gets a copy (migrating every time is slow)."""
    url = sqlite_url(tmp_path_factory.mktemp("sqlite-template"))
    _migrate_closed(url)
    return url


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """One migrated PostgreSQL database per session; each test gets CREATE DATABASE ... TEMPLATE it."""
    require(postgres_available(), "PostgreSQL is not reachable on 127.0.0.1:5432")
    name = create_postgres("re_template")
    try:
        _migrate_closed(postgres_url(name))
        yield name
    finally:
        drop_postgres(name)


@pytest.fixture(scope="session")
def postgres_pool(postgres_template: str) -> Iterator[PostgresPool]:
    pool = PostgresPool(postgres_template)
    yield pool
    pool.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.pg)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database of each kind."""
    if request.param == "sqlite":
        yield copy_sqlite(request.getfixturevalue("sqlite_template"), tmp_path)
        return
    require(postgres_available(), "PostgreSQL is not reachable on 127.0.0.1:5432")
    pool: PostgresPool = request.getfixturevalue("postgres_pool")
    name = pool.take()
    try:
        yield postgres_url(name)
    finally:
        pool.give_back(name)


# For behaviour above the database (cookies, headers, redirects): the database kind cannot change it,
# so the test runs once, on SQLite, instead of once per kind.
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def db_kind(database_url: str) -> str:
    """ "sqlite" or "postgres": the kind of this test's database."""
    return database_kind(database_url)


@pytest.fixture
def blank_database_url(db_kind: str, tmp_path: Path) -> Iterator[str]:
    """A fresh database of the same kind that was never migrated."""
    if db_kind == "sqlite":
        (tmp_path / "blank").mkdir()
        yield sqlite_url(tmp_path / "blank")
        return
    with temporary_postgres("re_blank") as url:
        yield url


@pytest.fixture
def app_settings(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Point the app's settings at the test database; returns the database URL."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("WEBHOOK_TOKEN", WEBHOOK_TOKEN)
    for name in (
        "WEBHOOK_USERNAME",
        "WEBHOOK_PASSWORD",
        "WEBHOOK_ALLOW_UNAUTHENTICATED",
        "WEBHOOK_MAX_BODY_BYTES",
        "REDIS_URL",
        "SECRET_KEY",
        "ENCRYPTION_KEY",
        "ACCESS_TOKEN_MINUTES",
        "COOKIE_SECURE",
        "TRUST_PROXY_HEADERS",
        "LOGIN_WINDOW_MINUTES",
        "LOGIN_MAX_FAILURES_PER_USER",
        "LOGIN_MAX_FAILURES_PER_ADDRESS",
        "LOGIN_DEVICE_DAYS",
        "LOGIN_KNOWN_ADDRESS_DAYS",
        "LOGIN_HASH_CONCURRENCY",
        "LOGIN_MAX_WAITING",
        "DB_STATEMENT_TIMEOUT_SECONDS",
        "LLM_MODEL",
        "LLM_API_BASE",
        "LLM_API_KEY",
        "LLM_TIMEOUT_SECONDS",
        "LLM_DAILY_BUDGET_USD",
        "LLM_TOOL_CALLING",
        "LLM_LOCAL",
        "PROMETHEUS_URL",
        "PROMETHEUS_BEARER_TOKEN",
        "PROMETHEUS_TIMEOUT_SECONDS",
        "ALERTMANAGER_URL",
        "ALERTMANAGER_BEARER_TOKEN",
        "ALERTMANAGER_TIMEOUT_SECONDS",
        "ALERTMANAGER_SYNC_SECONDS",
        "SILENCE_MAX_DAYS",
        "ACK_MAX_HOURS",
        "ANALYZE_SUPPRESSED",
        "INVESTIGATION_BUDGET_SECONDS",
        "INVESTIGATION_WINDOW_HOURS",
        "INVESTIGATION_TOOL_STEPS",
        "INVESTIGATION_WALL_SECONDS",
        "INVESTIGATION_MAX_TOKENS",
        "INVESTIGATION_MAX_COST_USD",
        "ANALYSIS_CONCURRENCY",
        "ANALYSIS_MAX_ATTEMPTS",
        "ANALYSIS_RETRY_BASE_SECONDS",
        "ANALYSIS_LEASE_SECONDS",
        "ANALYSIS_POLL_SECONDS",
        "ANALYSIS_DEDUP_MINUTES",
        "ANALYSIS_MAX_WAIT_MINUTES",
        "STORM_THRESHOLD",
        "PROPOSAL_EXPIRY_MINUTES",
        "DIAGNOSTIC_TIMEOUT_SECONDS",
        "DIAGNOSTIC_OUTPUT_MAX_BYTES",
        "FIX_VERIFY_WINDOW_MINUTES",
        "FIX_HOLD_MINUTES",
        "FIX_VERIFY_INTERVAL_SECONDS",
        "PUBLIC_URL",
        "NOTIFY_URLS",
        "NOTIFY_WORKER_ENABLED",
        "NOTIFY_CONCURRENCY",
        "NOTIFY_TIMEOUT_SECONDS",
        "NOTIFY_MAX_ATTEMPTS",
        "NOTIFY_RETRY_BASE_SECONDS",
        "NOTIFY_RETRY_MAX_SECONDS",
    ):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield database_url
    get_settings.cache_clear()


@pytest.fixture
def app_env(app_settings: str, monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Change the app's environment mid-test: app_env(WEBHOOK_TOKEN=None, DATABASE_URL="...")."""

    def apply(**env: str | None) -> None:
        for name, value in env.items():
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)
        get_settings.cache_clear()

    return apply


TEST_PASSWORD = "correct horse battery staple"


@functools.cache
def _test_password_hash() -> str:
    from remediation_app.services.security import hash_password

    return hash_password(TEST_PASSWORD)


async def add_user(username: str, role: str = "user", *, active: bool = True) -> Any:
    """A user with TEST_PASSWORD in the app's current database."""
    from sqlmodel import select

    from remediation_app.db import async_session
    from remediation_app.models import User, utcnow

    async with async_session() as session:
        existing = (await session.exec(select(User).where(User.username == username))).first()
        if existing is not None:  # a database shared by several tests
            return existing
        user = User(
            username=username,
            password_hash=_test_password_hash(),
            role=role,
            is_active=active,
            created_at=utcnow(),
            updated_at=utcnow(),
        )
        session.add(user)
        await session.commit()
        return user


def bearer_for(user: Any) -> dict[str, str]:
    from remediation_app.services.tokens import issue_token

    return {"Authorization": f"Bearer {issue_token(user)[0]}"}


@pytest.fixture
def api_app(app_settings: str) -> Any:
    """The FastAPI app in process (no Reflex) that `client` and `anon` talk to."""
    from remediation_app.api import build_api

    return build_api()


@pytest.fixture
async def client(api_app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The API in process (no Reflex), against the real test database, logged in as an admin
    (a request's own Authorization header, like the webhook's, replaces that login)."""
    admin = await add_user("test-admin", "admin")
    transport = httpx.ASGITransport(app=api_app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", timeout=60, headers=bearer_for(admin)
    ) as http:
        yield http
    await dispose_engines()


@pytest.fixture
async def anon(client: httpx.AsyncClient, api_app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The same app as `client` (same database, the admin exists), without any login. It keeps no
    cookies: a test that logs in through the browser form sends the session cookie itself."""
    no_cookies = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=api_app), base_url="http://testserver", timeout=60, cookies=no_cookies
    ) as http:
        yield http


async def login_token(http: httpx.AsyncClient, username: str, password: str = TEST_PASSWORD) -> httpx.Response:
    """POST /api/auth/token with a username and password (the OAuth2 password form)."""
    return await http.post("/api/auth/token", data={"username": username, "password": password})


@pytest.fixture
def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {WEBHOOK_TOKEN}"}


@pytest.fixture
def post_webhook(client: httpx.AsyncClient, auth: dict[str, str]) -> Callable[..., Awaitable[httpx.Response]]:
    """POST a payload (JSON-encoded unless bytes) to the webhook with the bearer token."""

    async def post(payload: Any, **kwargs: Any) -> httpx.Response:
        headers = {**auth, **kwargs.pop("headers", {})}
        if isinstance(payload, bytes):
            headers.setdefault("Content-Type", "application/json")
            return await client.post("/webhook/alerts", content=payload, headers=headers, **kwargs)
        return await client.post("/webhook/alerts", json=payload, headers=headers, **kwargs)

    return post


@pytest.fixture
def db(database_url: str) -> Iterator[DatabaseProbe]:
    """Direct access to the test database (not through the app)."""
    probe = DatabaseProbe(database_url)
    yield probe
    probe.close()
