"""Start the real app (`reflex run --env prod`) on a loopback port, for e2e tests and benchmarks.

Each server gets its own Reflex web directory: the frontend build carries the port it talks to,
so two servers on different ports cannot share one build.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / ".venv" / "bin"
TOOLS_BIN = ROOT / ".tools" / "node_modules" / ".bin"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
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
    ) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.database_url = database_url
        self.log_path = (log_dir or data_dir) / f"app-{name}.log"
        self.env = reflex_env(
            PORT=str(self.port),
            DATABASE_URL=database_url,
            DATA_DIR=str(data_dir),
            REFLEX_WEB_WORKDIR=f".web-{name}",
            REFLEX_STATES_WORKDIR=f".states-{name}",
            LOG_LEVEL="INFO",
            **(env or {}),
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 240) -> AppServer:
        subprocess.run(
            [str(BIN / "python"), "-m", "remediation_app", "db", "upgrade"],
            cwd=ROOT,
            env=self.env,
            check=True,
            capture_output=True,
        )
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [str(BIN / "reflex"), "run", "--env", "prod", "--loglevel", "info"],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"app exited with {self.proc.returncode}; see {self.log_path}:\n{self.log_tail()}")
            try:
                if (
                    httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200
                    and httpx.get(f"{self.url}/", timeout=2).status_code == 200
                ):
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"app not ready within {timeout}s; see {self.log_path}:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        pgid = os.getpgid(self.proc.pid)
        os.killpg(pgid, signal.SIGINT)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(pgid, signal.SIGKILL)
            self.proc.wait(timeout=5)
        with contextlib.suppress(ProcessLookupError):  # granian workers left behind by a hard stop
            os.killpg(pgid, signal.SIGKILL)

    def __enter__(self) -> AppServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
