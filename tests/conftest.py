"""Shared fixtures. Under CI=true a missing service or tool fails the test instead of skipping it."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from remediation_app.db import dispose_engines
from remediation_app.services import migrations
from remediation_app.settings import get_settings
from tests.support.databases import postgres_available, sqlite_url, temporary_postgres

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


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.pg)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database of each kind."""
    if request.param == "sqlite":
        url = sqlite_url(tmp_path)
        migrations.upgrade(url)
        yield url
        return
    require(postgres_available(), "PostgreSQL is not reachable on 127.0.0.1:5432")
    with temporary_postgres() as url:
        migrations.upgrade(url)
        yield url


@pytest.fixture
def app_settings(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Point the app's settings at the test database; returns the database URL."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("WEBHOOK_TOKEN", WEBHOOK_TOKEN)
    for name in ("WEBHOOK_USERNAME", "WEBHOOK_PASSWORD", "WEBHOOK_ALLOW_UNAUTHENTICATED", "REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield database_url
    get_settings.cache_clear()


@pytest.fixture
async def client(app_settings: str) -> AsyncIterator[httpx.AsyncClient]:
    """The API in process (no Reflex), against the real test database."""
    from remediation_app.api import build_api

    transport = httpx.ASGITransport(app=build_api())
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http
    await dispose_engines()


@pytest.fixture
def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {WEBHOOK_TOKEN}"}
