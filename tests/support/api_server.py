"""The API alone (FastAPI from `build_api`, no Reflex frontend) served by granian on a loopback port.

For tests and benchmarks that need a real server (WebSockets) but not the pages: it starts in about
a second. It reads the same environment as the app (DATABASE_URL, DATA_DIR, ...).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx

from tests.support.app_server import BIN, ROOT, free_port

HOST = "127.0.0.1"


class ApiServer:
    def __init__(self, env: dict[str, str] | None = None, *, log: Path | None = None) -> None:
        self.port = free_port()
        self.env = {**os.environ, **(env or {})}
        self.log = log
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{HOST}:{self.port}"

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    def start(self, timeout: float = 30.0) -> ApiServer:
        out = self.log.open("wb") if self.log else subprocess.DEVNULL
        self._proc = subprocess.Popen(
            [
                str(BIN / "granian"),
                "--interface",
                "asgi",
                "--factory",
                "--host",
                HOST,
                "--port",
                str(self.port),
                "--log-level",
                "warning",
                "remediation_app.api:build_api",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"the API server exited: {self.log.read_text()[-2000:] if self.log else ''}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError("the API server did not start")

    def stop(self) -> None:
        if self._proc is None:
            return
        if self._proc.poll() is None:
            os.killpg(self._proc.pid, signal.SIGTERM)
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self._proc.pid, signal.SIGKILL)
                self._proc.wait(10)
        self._proc = None

    def __enter__(self) -> ApiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
