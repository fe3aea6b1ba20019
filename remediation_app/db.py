"""Engines and sessions, sync and async (no reflex import)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel import Session
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.settings import get_settings

# Errors that mean "the database is not reachable right now": the webhook answers 503 on these.
TRANSIENT_DB_ERRORS: tuple[type[Exception], ...] = (
    sa.exc.OperationalError,
    sa.exc.InterfaceError,
    sa.exc.TimeoutError,
    sa.exc.DisconnectionError,
    ConnectionError,
    asyncio.TimeoutError,
)


def _engine_kwargs(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        path = sa.engine.make_url(url).database
        if path and path != ":memory:":
            # Best effort: if the folder cannot be made, connecting fails as "unavailable" (503).
            with contextlib.suppress(OSError):
                Path(path).parent.mkdir(parents=True, exist_ok=True)
        return {"connect_args": {"timeout": 5}}
    connect_args: dict[str, Any] = {"connect_timeout": 5}
    timeout_ms = int(get_settings().db_statement_timeout_seconds * 1000)
    if timeout_ms > 0:
        connect_args["options"] = f"-c statement_timeout={timeout_ms}"
    return {
        "pool_pre_ping": True,
        "pool_size": 10,
        "max_overflow": 10,
        "pool_timeout": 5,
        "connect_args": connect_args,
    }


def _sqlite_pragmas(engine: Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=5000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()


_sync_engines: dict[str, Engine] = {}
_async_engines: dict[str, AsyncEngine] = {}
_sessionmakers: dict[str, async_sessionmaker[AsyncSession]] = {}


def sync_engine(url: str | None = None) -> Engine:
    url = url or get_settings().database_url
    if url not in _sync_engines:
        engine = sa.create_engine(url, **_engine_kwargs(url))
        if engine.dialect.name == "sqlite":
            _sqlite_pragmas(engine)
        _sync_engines[url] = engine
    return _sync_engines[url]


def async_engine(url: str | None = None) -> AsyncEngine:
    url = url or get_settings().async_database_url
    if url not in _async_engines:
        engine = create_async_engine(url, **_engine_kwargs(url))
        if engine.dialect.name == "sqlite":
            _sqlite_pragmas(engine.sync_engine)
        _async_engines[url] = engine
    return _async_engines[url]


@asynccontextmanager
async def async_session(url: str | None = None) -> AsyncIterator[AsyncSession]:
    url = url or get_settings().async_database_url
    if url not in _sessionmakers:
        _sessionmakers[url] = async_sessionmaker(async_engine(url), class_=AsyncSession, expire_on_commit=False)
    async with _sessionmakers[url]() as session:
        yield session


def sync_session(url: str | None = None) -> Session:
    return Session(sync_engine(url), expire_on_commit=False)


def is_sqlite() -> bool:
    return get_settings().database_url.startswith("sqlite")


async def dispose_engines() -> None:
    """Close pooled connections and forget engines (used at shutdown and by tests)."""
    for aengine in _async_engines.values():
        await aengine.dispose()
    for engine in _sync_engines.values():
        engine.dispose()
    _async_engines.clear()
    _sync_engines.clear()
    _sessionmakers.clear()
