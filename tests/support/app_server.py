"""Start the real app (`python -m remediation_app serve`, what `make run` and the image run) on a
loopback port, for e2e tests and benchmarks.

Each server gets its own Reflex web directory: the frontend build carries the port it talks to,
so two servers on different ports cannot share one build. By default it is `.web-<name>` in the
project (kept between runs: a later start with nothing changed reuses its build); pass `work_dir`
to build somewhere private instead (a temporary directory: no clash with a concurrent run that
uses the same name). `start()` again after `stop()` restarts on the same port and directory.

The server runs in its own process group: `stop()` ends it and anything it started (a frontend
build, granian's workers with GRANIAN_WORKERS > 1), even when the start failed half-way. With one
worker (the default) the app is that one process.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil

from remediation_app.frontend_build import MARKER

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / ".venv" / "bin"
TOOLS_BIN = ROOT / ".tools" / "node_modules" / ".bin"
HOST = "127.0.0.1"


# The first admin of every test server (created at its first start).
ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "e2e-admin-password"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def reflex_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        REFLEX_USE_SYSTEM_BUN="1",
        REFLEX_CHECK_LATEST_VERSION="0",
        REFLEX_TELEMETRY_ENABLED="false",
        REFLEX_USE_GRANIAN="1",
        NPM_CONFIG_REGISTRY="https://registry.npmjs.org",
        PATH=f"{TOOLS_BIN}:{BIN}:{env.get('PATH', '')}",
    )
    env.update(extra)
    return env


class AppServer:
    """One app process tree; `url` is its base URL. Use as a context manager."""

    def __init__(
        self,
        *,
        database_url: str,
        data_dir: Path,
        name: str,
        port: int | None = None,
        env: dict[str, str] | None = None,
        log_dir: Path | None = None,
        work_dir: Path | None = None,
        serve_argv: list[str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.port = port or free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.database_url = database_url
        self.data_dir = data_dir
        self.log_path = (log_dir or data_dir) / f"app-{name}.log"
        self.web_dir = work_dir / "web" if work_dir else Path(f".web-{name}")
        states_dir = work_dir / "states" if work_dir else Path(f".states-{name}")
        self.env = reflex_env(
            PORT=str(self.port),
            DATABASE_URL=database_url,
            DATA_DIR=str(data_dir),
            REFLEX_WEB_WORKDIR=str(self.web_dir),
            REFLEX_STATES_WORKDIR=str(states_dir),
            LOG_LEVEL="INFO",
            ADMIN_USERNAME=ADMIN_USERNAME,
            ADMIN_PASSWORD=ADMIN_PASSWORD,
            **(env or {}),
        )
        # Where the app's code is (a benchmark may run a copy that nobody edits meanwhile).
        self.cwd = cwd or ROOT
        # What starts the server (after the migrations); benchmarks compare another start with it.
        self.serve_argv = serve_argv or [
            str(BIN / "python"),
            *("-m", "remediation_app", "serve", "--loglevel", "info", "--backend-host", HOST),
        ]
        self.proc: subprocess.Popen[bytes] | None = None
        self.ready_seconds: float | None = None  # the last start: from the server's launch to ready
        self._bearer: dict[str, str] | None = None

    def bearer(self) -> dict[str, str]:
        """An Authorization header for the API, logged in as the first admin."""
        if self._bearer is None:
            response = httpx.post(
                f"{self.url}/api/auth/token",
                data={"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD},
                timeout=30,
            )
            response.raise_for_status()
            self._bearer = {"Authorization": f"Bearer {response.json()['access_token']}"}
        return self._bearer

    def add_user(self, username: str, password: str, role: str = "user") -> int:
        """A user written straight into the app's database (as services.users would); returns its id.

        Synchronous on purpose: e2e tests run while Playwright's sync API owns the thread's loop.
        """
        from sqlmodel import Session

        from remediation_app.models import User, utcnow
        from remediation_app.services.security import hash_password

        now = utcnow()
        user = User(username=username, password_hash=hash_password(password), role=role, created_at=now, updated_at=now)
        with self._engine() as engine, Session(engine) as session:
            session.add(user)
            session.commit()
            session.refresh(user)
        assert user.id is not None
        return user.id

    @contextlib.contextmanager
    def _engine(self) -> Iterator[Any]:
        """A short-lived engine on the app's database (disposed: a pooled connection would block
        dropping a temporary PostgreSQL database afterwards)."""
        import sqlalchemy as sa

        engine = sa.create_engine(self.database_url)
        try:
            yield engine
        finally:
            engine.dispose()

    def db_rows(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        """Read the app's database directly (for assertions)."""
        import sqlalchemy as sa

        with self._engine() as engine, engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(sa.text(sql), params)]

    def token_for(self, username: str, password: str) -> httpx.Response:
        """POST /api/auth/token (the API login); the response, whatever its status."""
        return httpx.post(f"{self.url}/api/auth/token", data={"username": username, "password": password}, timeout=30)

    def login(self, context: Any, username: str = ADMIN_USERNAME, password: str = ADMIN_PASSWORD) -> None:
        """Log a Playwright browser context in through the login form's endpoint (sets the cookie)."""
        response = context.request.post(
            f"{self.url}/api/auth/login",
            form={"username": username, "password": password, "next": "/"},
            headers={"Origin": self.url},
            max_redirects=0,
        )
        assert response.status == 303, response.status
        assert "error=" not in response.headers.get("location", ""), response.headers.get("location")

    def start(self, timeout: float = 240) -> AppServer:
        subprocess.run(
            [str(BIN / "python"), "-m", "remediation_app", "db", "upgrade"],
            cwd=self.cwd,
            env=self.env,
            check=True,
            capture_output=True,
        )
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        launched = time.monotonic()
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                self.serve_argv,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        self.ready_seconds = time.monotonic() - launched
        return self

    def _wait_ready(self, timeout: float) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"app exited with {self.proc.returncode}; see {self.log_path}:\n{self.log_tail()}")
            try:
                if (
                    httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200
                    and httpx.get(f"{self.url}/", timeout=2).status_code == 200
                ):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"app not ready within {timeout}s; see {self.log_path}:\n{self.log_tail()}")

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def worker_pids(self) -> list[int]:
        """The processes serving requests: the server itself (one worker, embedded), or the granian
        workers it forked (GRANIAN_WORKERS > 1)."""
        if self.proc is None or self.proc.poll() is not None:
            return []
        with contextlib.suppress(psutil.NoSuchProcess):
            children = sorted(child.pid for child in psutil.Process(self.proc.pid).children())
            return children or [self.proc.pid]
        return []

    def build_marker(self) -> dict[str, Any] | None:
        """The frontend build's marker (remediation_app/frontend_build.py), None before a build."""
        try:
            return dict(json.loads((self.cwd / self.web_dir / "build" / MARKER).read_text()))
        except (OSError, ValueError):
            return None

    def worker_serving(self, client_port: int) -> int | None:
        """The worker that accepted our loopback connection from `client_port` (HTTP keep-alive
        keeps that connection on that worker), or None if no worker holds it."""
        for pid in self.worker_pids():
            with contextlib.suppress(psutil.NoSuchProcess):
                for conn in psutil.Process(pid).net_connections(kind="tcp"):
                    if conn.laddr and conn.laddr.port == self.port and conn.raddr and conn.raddr.port == client_port:
                        return pid
        return None

    def stop(self) -> None:
        """SIGINT to the whole group (the server stops its workers), then SIGKILL to what is left."""
        if self.proc is None:
            return
        pgid = self.proc.pid  # start_new_session: the server leads its own group
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGINT)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pgid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        # Workers (or a frontend build) left behind by a server that died or was killed.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)

    def __enter__(self) -> AppServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def started_app(tmp: Path, name: str, *, env: dict[str, str], database_url: str | None = None) -> Iterator[AppServer]:
    """The app started with its files in `tmp` (on SQLite there unless `database_url` is given),
    stopped afterwards and its frontend build (~150 MB) removed."""
    server = AppServer(
        database_url=database_url or f"sqlite:///{tmp / 'remediation.db'}",
        data_dir=tmp / "data",
        name=name,
        env=env,
        log_dir=tmp,
        work_dir=tmp / "reflex",
    )
    try:
        server.start()  # raises with the log's last lines if the app does not come up
        yield server
    finally:
        server.stop()
        shutil.rmtree(tmp / "reflex", ignore_errors=True)
