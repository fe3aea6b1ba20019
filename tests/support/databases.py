"""Throwaway databases (a SQLite file, or a fresh PostgreSQL database dropped afterwards), a probe
that reads them directly, and the faults the outage tests inject (a TCP proxy, a SQLite lock)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import queue
import shutil
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_HOST, PG_PORT = "127.0.0.1", 5432


def postgres_available() -> bool:
    try:
        with psycopg.connect(PG_ADMIN, connect_timeout=3):
            return True
    except psycopg.Error:
        return False


def postgres_url(name: str) -> str:
    return f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/{name}"


def create_postgres(prefix: str = "re_test", template: str | None = None) -> str:
    """Create a database (a copy of `template` if given); returns its name."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    clause = f' TEMPLATE "{template}"' if template else ""
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"{clause}')
    return name


def drop_postgres(name: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def temporary_postgres(prefix: str = "re_test", template: str | None = None) -> Iterator[str]:
    """A fresh PostgreSQL database (empty, or a copy of `template`), dropped afterwards; yields its URL."""
    name = create_postgres(prefix, template)
    try:
        yield postgres_url(name)
    finally:
        drop_postgres(name)


class PostgresPool:
    """Copies of a template database, made ahead of time by background threads.

    CREATE DATABASE costs a fraction of a second (more on a busy server) and runs well in
    parallel, so each test takes a copy that is usually ready, and drops it in the background.
    """

    def __init__(self, template: str, ahead: int = 4, prefix: str = "re_test") -> None:
        self.template = template
        self.prefix = prefix
        self._executor = ThreadPoolExecutor(max_workers=ahead, thread_name_prefix="pg-pool")
        self._ready: queue.SimpleQueue[Future[str]] = queue.SimpleQueue()
        for _ in range(ahead):
            self._prepare()

    def _prepare(self) -> None:
        self._ready.put(self._executor.submit(create_postgres, self.prefix, self.template))

    def take(self) -> str:
        """A fresh copy's name (blocks until one is ready)."""
        future = self._ready.get_nowait()
        self._prepare()
        return future.result(timeout=120)

    def give_back(self, name: str) -> None:
        self._executor.submit(drop_postgres, name)

    def close(self) -> None:
        while not self._ready.empty():
            future = self._ready.get_nowait()
            with contextlib.suppress(Exception):
                self.give_back(future.result(timeout=120))
        self._executor.shutdown(wait=True)


def sqlite_url(directory: Path) -> str:
    return f"sqlite:///{directory / 'remediation.db'}"


def sqlite_path(url: str) -> Path:
    database = sa.engine.make_url(url).database
    assert database, url
    return Path(database)


def copy_sqlite(template_url: str, directory: Path) -> str:
    """A copy of a (closed) SQLite database in `directory`; returns its URL."""
    directory.mkdir(parents=True, exist_ok=True)
    url = sqlite_url(directory)
    shutil.copyfile(sqlite_path(template_url), sqlite_path(url))
    return url


def database_kind(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgres"


class DatabaseProbe:
    """Reads (and, for set-up, writes) the test database directly, bypassing the app."""

    def __init__(self, url: str) -> None:
        self.url = url
        # One pooled connection (a new one per query is slow on PostgreSQL); close() releases it.
        self.engine = sa.create_engine(url, pool_size=1, max_overflow=2)

    def rows(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(sa.text(sql), params)]

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(sa.text(sql), params).scalar()

    def execute(self, sql: str, **params: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.text(sql), params)

    def count(self, table: str) -> int:
        return int(self.scalar(f"SELECT count(*) FROM {table}"))

    def alerts(self) -> list[dict[str, Any]]:
        """Every alert row, ordered by id, with JSON columns decoded the same way on both databases."""
        rows = self.rows("SELECT * FROM alerts ORDER BY id")
        for row in rows:
            for name in ("labels", "annotations"):
                if isinstance(row[name], str):
                    row[name] = json.loads(row[name])
        return rows

    def close(self) -> None:
        self.engine.dispose()


class SqliteLock:
    """Another connection holding BEGIN EXCLUSIVE on a SQLite file: the app's writes wait for the busy
    timeout, then fail. In WAL mode reads carry on."""

    def __init__(self, url: str) -> None:
        self.path = sqlite_path(url)
        self.conn: sqlite3.Connection | None = None

    def acquire(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=5)
        conn.execute("BEGIN EXCLUSIVE")
        self.conn = conn

    def release(self) -> None:
        if self.conn is not None:
            self.conn.execute("ROLLBACK")
            self.conn.close()
            self.conn = None


class TcpProxy:
    """A loopback TCP proxy running an asyncio loop in its own thread.

    `stop()` closes the listening socket (new connections are refused) and aborts every open
    connection; `start()` listens again on the same port. Use as a context manager.
    """

    def __init__(self, target_host: str = PG_HOST, target_port: int = PG_PORT) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="tcp-proxy", daemon=True)
        self._server: asyncio.Server | None = None
        self._transports: set[asyncio.BaseTransport] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.connections = 0

    def url_for(self, url: str) -> str:
        """The same database URL, through this proxy."""
        return sa.engine.make_url(url).set(host="127.0.0.1", port=self.port).render_as_string(hide_password=False)

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)

    def start(self) -> TcpProxy:
        if not self._thread.is_alive():
            self._thread.start()
        self._run(self._start())
        return self

    def stop(self) -> None:
        self._run(self._stop())

    def close(self) -> None:
        if self._thread.is_alive():
            self._run(self._stop())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        self._loop.close()

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def _start(self) -> None:
        assert self._server is None, "already listening"
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for transport in list(self._transports):
            transport.abort()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._transports.add(writer.transport)
        try:
            try:
                up_reader, up_writer = await asyncio.open_connection(*self.target)
            except OSError:
                writer.transport.abort()
                return
            self._transports.add(up_writer.transport)
            self.connections += 1
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
            self._transports.discard(up_writer.transport)
        finally:
            self._transports.discard(writer.transport)
            self._tasks.discard(task)

    @staticmethod
    async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        try:
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            dst.transport.abort()
