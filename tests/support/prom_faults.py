"""Datasources that misbehave, each a real server on loopback: a port that refuses connections, one
that accepts and never answers, one that answers a byte at a time, and one that replies with
whatever a test gives (an error status, a Prometheus error, HTML, an enormous body) and records
the requests it got. Prometheus API bodies are built by `success_body`, `error_body`, `many_series`.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HOST = "127.0.0.1"


@contextlib.contextmanager
def refused_url() -> Iterator[str]:
    """A URL whose port is bound but not listening: connecting is refused, and no other process can
    take the port meanwhile (unlike a port that was free a moment ago)."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        yield f"http://{HOST}:{sock.getsockname()[1]}"


@contextlib.contextmanager
def silent_url() -> Iterator[str]:
    """A URL that accepts connections (the kernel completes them from the backlog) and never answers."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        sock.listen(16)
        yield f"http://{HOST}:{sock.getsockname()[1]}"


@dataclass
class Reply:
    status: int = 200
    body: bytes | Iterable[bytes] = b""
    content_type: str = "application/json"
    # Without a length the body ends when the connection closes, so the client cannot know its size
    # in advance and must count while it reads.
    send_length: bool = True


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class CannedServer:
    """Answers every request with `reply` (or `reply(request)`); `requests` are those received."""

    reply: Reply | Callable[[Received], Reply]
    requests: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                received = Received(self.command, self.path, dict(self.headers.items()), self.rfile.read(length))
                server.requests.append(received)
                reply = server.reply(received) if callable(server.reply) else server.reply
                chunks = [reply.body] if isinstance(reply.body, bytes) else reply.body
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.send_response(reply.status)
                    self.send_header("Content-Type", reply.content_type)
                    if reply.send_length and isinstance(reply.body, bytes):
                        self.send_header("Content-Length", str(len(reply.body)))
                    self.send_header("Connection", "close")
                    self.end_headers()
                    for chunk in chunks:
                        self.wfile.write(chunk)

            do_GET = do_POST = _answer

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer((HOST, 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://{HOST}:{self._server.server_address[1]}"
        # shutdown() waits for the loop's next poll: a short interval keeps each test's teardown quick.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="canned-server", daemon=True
        )

    def __enter__(self) -> CannedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


@contextlib.contextmanager
def trickling_url(every_s: float = 0.1) -> Iterator[str]:
    """A URL that answers 200 at once, then sends its body one byte every `every_s` seconds, forever:
    each read gets data in time, so only a deadline on the whole request ends it."""
    stop = threading.Event()

    def trickle(_: Received) -> Reply:
        def body() -> Iterator[bytes]:
            yield b'{"status":"success","data":{"resultType":"vector","result":[]}'
            # The pace is the fault being simulated, not a wait for something to happen.
            while not stop.wait(every_s):
                yield b" "

        return Reply(body=body(), send_length=False)

    with CannedServer(trickle) as server:
        try:
            yield server.url
        finally:
            stop.set()


def success_body(result_type: str, result: Any, warnings: Iterable[str] = ()) -> bytes:
    payload: dict[str, Any] = {"status": "success", "data": {"resultType": result_type, "result": result}}
    if warnings:
        payload["warnings"] = list(warnings)
    return json.dumps(payload).encode()


def error_body(error_type: str, error: str) -> bytes:
    return json.dumps({"status": "error", "errorType": error_type, "error": error}).encode()


def many_series(count: int, *, label_chars: int = 0, at: int = 1_700_000_000) -> bytes:
    """An instant vector of `count` series `up{instance="i<n>"}`, built without json.dumps of a huge
    structure (fast); `label_chars` adds a label of that length to every series, to make it larger."""
    pad = f',"pad":"{"x" * label_chars}"' if label_chars else ""
    head = b'{"status":"success","data":{"resultType":"vector","result":['
    items = (f'{{"metric":{{"__name__":"up","instance":"i{n}"{pad}}},"value":[{at},"{n}"]}}' for n in range(count))
    return head + ",".join(items).encode() + b"]}}"
