"""Where the notification tests' messages arrive, each a real server on loopback: an HTTP receiver for
Apprise's `json://` (it records every request, can go down and come back on the same port, answer
an error, or hold its answer until a test lets it go) and an SMTP server (aiosmtpd) for `mailto://`."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

from tests.support.app_server import free_port

HOST = "127.0.0.1"


@dataclass
class Posted:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class JsonReceiver:
    """Apprise's json:// target. `status` is what it answers; while `hold` is clear it keeps each
    request waiting (after recording it) until the test sets it."""

    status: int = 200
    posted: list[Posted] = field(default_factory=list)
    hold: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.port = free_port()
        self.hold.set()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def url(self, path: str = "/hook", **query: str) -> str:
        extra = "&".join(f"{k}={v}" for k, v in query.items())
        return f"json://{HOST}:{self.port}{path}" + (f"?{extra}" if extra else "")

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                receiver.posted.append(Posted(self.path.partition("?")[0], dict(self.headers.items()), body))
                receiver.hold.wait(30)
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.send_response(receiver.status)
                    self.send_header("Content-Length", "0")
                    self.send_header("Connection", "close")
                    self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        return Handler

    def up(self) -> JsonReceiver:
        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer((HOST, self.port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="json-receiver", daemon=True
        )
        self._thread.start()
        return self

    def down(self) -> None:
        """Stop listening: connections to the port are refused until `up()`."""
        if self._server is not None:
            self.hold.set()
            self._server.shutdown()
            self._server.server_close()
            assert self._thread is not None
            self._thread.join(timeout=10)
            self._server = None

    def __enter__(self) -> JsonReceiver:
        return self.up()

    def __exit__(self, *exc: object) -> None:
        self.down()

    def messages(self) -> list[dict[str, Any]]:
        return [p.body for p in self.posted]


@dataclass
class SmtpReceiver:
    """An SMTP server on loopback (no TLS, no login) that keeps every message it accepts."""

    received: list[EmailMessage] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.port = free_port()
        receiver = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
                receiver.received.append(parsed)  # type: ignore[arg-type]
                return "250 OK"

        self._controller = Controller(Handler(), hostname=HOST, port=self.port)

    def url(self, to: str = "oncall@example.com") -> str:
        return f"mailto://{HOST}:{self.port}?to={to}&from=engine@example.com&mode=insecure"

    def __enter__(self) -> SmtpReceiver:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()


def text_of(message: EmailMessage) -> dict[str, str]:
    """An email's parts by content type (text/plain, text/html), decoded."""
    parts: dict[str, str] = {}
    for part in message.walk():
        if part.get_content_maintype() == "text":
            parts[part.get_content_type()] = str(part.get_content())
    return parts


async def wait_for(condition: Callable[[], Any], timeout: float = 20.0, what: str = "the condition") -> Any:
    """Poll (a receiver's server runs in a thread; the worker on this loop) until `condition()` is truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        await asyncio.sleep(0.02)
