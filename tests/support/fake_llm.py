"""A scriptable OpenAI-compatible HTTP server on loopback, for tests and benchmarks.

LiteLLM is pointed at it over real HTTP (`api_base=server.url + "/v1"`); nothing is patched.
The server is a tiny HTTP/1.1 implementation on an asyncio loop that runs in its own thread,
so it serves sync tests, async tests and benchmark scripts alike: keep-alive, many concurrent
connections, chunked Server-Sent-Events streaming, and requests that hang forever without
blocking the others or the shutdown.

    with FakeLLM() as server:
        server.script(reply("hi"), error(429, headers={"Retry-After": "1"}), hang())
        ...  # three calls: "hi", a rate-limit error, then one that never answers
        server.wait_for_requests(3, timeout=5)
        assert server.requests[0].json["model"] == "gpt-4o-mini"

Each request to `POST /v1/chat/completions` consumes one scripted step (FIFO); when the queue
is empty, `server.default` answers (a valid JSON analysis, `GOOD_ANALYSIS`, unless changed).
A step serves both kinds of request: `reply` streams its text in pieces when the request asks
for `"stream": true`, and `stream` answers a non-streaming request with its joined chunks.

Tool calls: `tool_calls([tool_call("query", {"expr": "up"}), ...])` answers with an assistant
message carrying OpenAI `tool_calls` (streamed as `delta.tool_calls` pieces when asked to stream).
A step may also be a function of the request, called when that request arrives, to answer by what
it offers (`request.tools`) or check what came back (`request.tool_messages`):

    server.script(lambda req: tool_calls([tool_call("query", {"expr": "up"})]), reply("done"))

A function that raises (a failed assert in it) is recorded in `server.step_errors` and answered
with a 400 error naming the exception, so the call fails at once instead of retrying.

Stand-alone, for benchmarks run from another process (stdlib only, Ctrl-C or SIGTERM ends it):

    python tests/support/fake_llm.py --port 8099 --delay 0.3
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import signal
import socket
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

HOST = "127.0.0.1"

GOOD_ANALYSIS: dict[str, Any] = {
    "root_cause": "The /var filesystem is full: application logs under /var/log/app are not rotated.",
    "impact": "Writes to /var fail, so the service cannot persist state and requests error out.",
    "immediate_actions": [
        {"description": "Check how full /var is", "command": "df -h /var", "risk": "low"},
    ],
    "remediation_steps": ["Compress or delete old logs under /var/log/app", "Enable logrotate for /var/log/app"],
    "prevention": ["Alert when /var is 80% full", "Ship logs off the host"],
    "urgency": "HIGH",
    "confidence": 0.8,
    "needs_human": False,
}
GOOD_ANALYSIS_TEXT = json.dumps(GOOD_ANALYSIS)

MODELS = ["gpt-4o-mini", "gpt-4o", "gpt-4.1-mini"]
_MAX_HEADER_BYTES = 64 * 1024
_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    408: "Request Timeout",
    413: "Payload Too Large",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
_ERROR_TYPES = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_error", None),
    404: ("invalid_request_error", None),
    429: ("rate_limit_error", "rate_limit_exceeded"),
}


# --- steps -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReplyStep:
    """Answer `text` after `delay` seconds. Token counts default to ~4 characters a token."""

    text: str
    delay: float = 0.0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    finish_reason: str = "stop"


@dataclass(frozen=True)
class ErrorStep:
    """Answer with HTTP `status`; `body` None is an OpenAI-style error object, a dict is sent as
    JSON, a str/bytes as is. `headers` are added (e.g. {"Retry-After": "2"})."""

    status: int
    body: dict[str, Any] | str | bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass(frozen=True)
class HangStep:
    """Read the request and never answer, until the client gives up or the server stops."""


@dataclass(frozen=True)
class StreamStep:
    """Stream `chunks` as SSE: the first after `first_token_delay`, then one every `between` s.
    `fail_after=n` sends n chunks and then drops the connection (no final chunk, no [DONE],
    no terminating zero-length HTTP chunk)."""

    chunks: tuple[str, ...]
    first_token_delay: float = 0.0
    between: float = 0.0
    fail_after: int | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    finish_reason: str = "stop"


@dataclass(frozen=True)
class ScriptedCall:
    """One tool call of a ToolCallsStep: `arguments` is the JSON text sent (invalid JSON allowed)."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class ToolCallsStep:
    """Answer with an assistant message calling tools (finish_reason "tool_calls"), with `text` as
    its content when not empty."""

    calls: tuple[ScriptedCall, ...]
    text: str = ""
    delay: float = 0.0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    finish_reason: str = "tool_calls"


Step = ReplyStep | ErrorStep | HangStep | StreamStep | ToolCallsStep
# A scripted step, or `server.default`, may also be a function of the request, for answers that depend on it.
StepSource = Step | Callable[["RecordedRequest"], Step]


def reply(
    text: str = GOOD_ANALYSIS_TEXT,
    *,
    delay: float = 0.0,
    prompt_tokens: int | None = None,
    completion_tokens: int | None = None,
    finish_reason: str = "stop",
) -> ReplyStep:
    return ReplyStep(text, delay, prompt_tokens, completion_tokens, finish_reason)


def reply_json(obj: Any, *, delay: float = 0.0) -> ReplyStep:
    return ReplyStep(json.dumps(obj), delay)


def error(
    status: int,
    body: dict[str, Any] | str | bytes | None = None,
    headers: dict[str, str] | None = None,
    *,
    delay: float = 0.0,
) -> ErrorStep:
    return ErrorStep(status, body, dict(headers or {}), delay)


def hang() -> HangStep:
    return HangStep()


def stream(
    chunks: list[str] | tuple[str, ...],
    *,
    first_token_delay: float = 0.0,
    between: float = 0.0,
    fail_after: int | None = None,
    prompt_tokens: int | None = None,
    completion_tokens: int | None = None,
    finish_reason: str = "stop",
) -> StreamStep:
    return StreamStep(
        tuple(chunks), first_token_delay, between, fail_after, prompt_tokens, completion_tokens, finish_reason
    )


_call_ids = itertools.count(1)


def tool_call(name: str, arguments: dict[str, Any] | str | None = None, *, id: str | None = None) -> ScriptedCall:
    """A call of tool `name`: a dict of arguments is sent as JSON, a str as is (to send broken JSON)."""
    text = arguments if isinstance(arguments, str) else json.dumps(arguments if arguments is not None else {})
    return ScriptedCall(id or f"call_{next(_call_ids):04d}{uuid.uuid4().hex[:8]}", name, text)


def tool_calls(
    calls: list[ScriptedCall | tuple[str, dict[str, Any] | str]] | tuple[ScriptedCall, ...],
    *,
    text: str = "",
    delay: float = 0.0,
    prompt_tokens: int | None = None,
    completion_tokens: int | None = None,
    finish_reason: str = "tool_calls",
) -> ToolCallsStep:
    """Answer by calling tools; each call a `tool_call(...)` or a `(name, arguments)` pair."""
    scripted = tuple(c if isinstance(c, ScriptedCall) else tool_call(c[0], c[1]) for c in calls)
    if not scripted:
        raise ValueError("tool_calls needs at least one call")
    return ToolCallsStep(scripted, text, delay, prompt_tokens, completion_tokens, finish_reason)


def closed_port() -> int:
    """A loopback port where nothing listens: connecting to it is refused.

    The socket is bound (so the kernel picks a free port) and closed without listen(): short of
    another process taking the port in between, a connection to it gets RST.
    """
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


# --- records -----------------------------------------------------------------------------------


@dataclass
class RecordedRequest:
    """One request as received. `headers` keys are lower-case; `json` is the parsed body or None."""

    index: int
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    json: Any
    received_at: float  # time.monotonic()
    step: Step | None = None  # what answered it (None for /v1/models and 404s)
    disconnected: bool = False  # the client went away before the answer was complete
    # Wall-clock time (time.time()) at which the first piece of text of a streamed answer was written
    # to the socket (benchmarks compare it with when the page shows it).
    first_token_at: float | None = None

    @property
    def stream(self) -> bool:
        return isinstance(self.json, dict) and bool(self.json.get("stream"))

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The chat messages sent ([] when the body is not a chat request)."""
        messages = self.json.get("messages") if isinstance(self.json, dict) else None
        return [m for m in messages if isinstance(m, dict)] if isinstance(messages, list) else []

    @property
    def tools(self) -> list[dict[str, Any]]:
        """The functions offered: each `{"name", "description", "parameters"}` ([] when none)."""
        tools = self.json.get("tools") if isinstance(self.json, dict) else None
        if not isinstance(tools, list):
            return []
        return [t["function"] for t in tools if isinstance(t, dict) and isinstance(t.get("function"), dict)]

    @property
    def tool_names(self) -> list[str]:
        return [str(t.get("name")) for t in self.tools]

    def tool(self, name: str) -> dict[str, Any]:
        """The function offered as `name`; KeyError when it was not offered."""
        for t in self.tools:
            if t.get("name") == name:
                return t
        raise KeyError(f"tool {name!r} not offered (offered: {self.tool_names})")

    @property
    def tool_messages(self) -> list[dict[str, Any]]:
        """The `role: tool` messages sent (tool results), in order."""
        return [m for m in self.messages if m.get("role") == "tool"]


def _approx_tokens(text: str) -> int:
    return max(1, len(text) // 4)


def _prompt_text(body: Any) -> str:
    if not isinstance(body, dict):
        return ""
    parts: list[str] = []
    for message in body.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return "\n".join(parts)


# --- the HTTP connection ----------------------------------------------------------------------


class _Gone(Exception):
    """The client closed the connection (or the server is stopping) while we answered."""


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.buf = bytearray()
        self.eof = False
        self.gone = asyncio.Event()  # client closed, or server stopping
        self.client_closed = False

    async def _fill(self) -> None:
        try:
            data = await self.reader.read(65536)
        except (ConnectionError, OSError):
            data = b""
        if data:
            self.buf += data
        else:
            self.eof = True
            self.client_closed = True
            self.gone.set()

    async def _read_until(self, sep: bytes, limit: int) -> bytes | None:
        while True:
            i = self.buf.find(sep)
            if i >= 0:
                out = bytes(self.buf[:i])
                del self.buf[: i + len(sep)]
                return out
            if self.eof or len(self.buf) > limit:
                return None
            await self._fill()

    async def _read_exactly(self, n: int) -> bytes | None:
        while len(self.buf) < n:
            if self.eof:
                return None
            await self._fill()
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    async def read_request(self) -> tuple[str, str, dict[str, str], bytes] | None:
        head = await self._read_until(b"\r\n\r\n", _MAX_HEADER_BYTES)
        if head is None:
            return None
        lines = head.decode("latin-1").split("\r\n")
        try:
            method, target, _version = lines[0].split(" ", 2)
        except ValueError:
            return None
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body = bytearray()
            while True:
                size_line = await self._read_until(b"\r\n", 1024)
                if size_line is None:
                    return None
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                chunk = await self._read_exactly(size + 2)
                if chunk is None:
                    return None
                if size == 0:
                    break
                body += chunk[:-2]
            return method, target, headers, bytes(body)
        body_bytes = await self._read_exactly(int(headers.get("content-length", "0") or 0))
        if body_bytes is None:
            return None
        return method, target, headers, body_bytes

    async def watch(self) -> None:
        """While answering: notice the client closing (keeps any pipelined bytes in `buf`)."""
        while not self.eof:
            await self._fill()

    async def pause(self, seconds: float) -> None:
        """Sleep, unless the client goes away (or the server stops) first: then raise _Gone."""
        if self.gone.is_set():
            raise _Gone
        if seconds <= 0:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.gone.wait(), seconds)
            raise _Gone

    async def write(self, data: bytes) -> None:
        if self.gone.is_set() or self.writer.is_closing():
            raise _Gone
        try:
            self.writer.write(data)
            await self.writer.drain()
        except (ConnectionError, OSError) as exc:
            raise _Gone from exc

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.transport.abort()


def _head(status: int, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


# --- the server --------------------------------------------------------------------------------


class FakeLLM:
    """The server. `start()`/`stop()` or a context manager; `url` is http://127.0.0.1:<port>."""

    def __init__(self, port: int = 0, host: str = HOST, default: StepSource | None = None) -> None:
        self.host = host
        self.port = port
        self.default: StepSource = default if default is not None else reply()
        self._lock = threading.Condition()
        self._queue: deque[StepSource] = deque()
        self.step_errors: list[BaseException] = []  # raised by scripted functions (answered with a 400)
        self._requests: list[RecordedRequest] = []
        self._async_waiters: list[tuple[Callable[[], bool], asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.open_connections = 0
        self.max_open_connections = 0
        self.connections_total = 0
        self.disconnects = 0
        self._ids = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._conns: dict[asyncio.Task[None], _Connection] = {}

    # lifecycle

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_base(self) -> str:
        return self.url + "/v1"

    def start(self) -> FakeLLM:
        if self._thread is not None:
            raise RuntimeError("already started")
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name=f"fake-llm-{id(self):x}", daemon=True)
        self._thread.start()
        started = asyncio.run_coroutine_threadsafe(self._listen(), loop)
        try:
            started.result(timeout=10)
        except BaseException:
            self._halt_loop()
            raise
        return self

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(
            self._handle, self.host, self.port, backlog=2048, reuse_address=True, limit=1 << 20
        )
        self.port = int(self._server.sockets[0].getsockname()[1])

    def stop(self, timeout: float = 5.0) -> None:
        """Close the listener and every connection (hanging ones too). Idempotent."""
        loop = self._loop
        if loop is None or self._thread is None:
            return
        if threading.current_thread() is self._thread:
            raise RuntimeError("stop() from the server's own thread would deadlock")
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout)
        self._halt_loop(timeout)

    def _halt_loop(self, timeout: float = 5.0) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        if not thread.is_alive():
            loop.close()
        self._loop = None
        self._thread = None

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for task, conn in list(self._conns.items()):
            conn.gone.set()
            conn.abort()
            task.cancel()
        if self._conns:
            await asyncio.wait(list(self._conns), timeout=2)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
            self._server = None

    def __enter__(self) -> FakeLLM:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # scripting

    def script(self, *steps: StepSource) -> FakeLLM:
        """Queue steps: each chat completion request consumes the next one (a function of the
        request is called when that request arrives)."""
        with self._lock:
            self._queue.extend(steps)
        return self

    @property
    def pending_steps(self) -> int:
        with self._lock:
            return len(self._queue)

    def reset(self) -> None:
        """Forget queued steps, recorded requests and counters (not open connections)."""
        with self._lock:
            self._queue.clear()
            self._requests.clear()
            self.step_errors.clear()
            self.max_in_flight = self.in_flight
            self.max_open_connections = self.open_connections
            self.disconnects = 0
            self._ids = itertools.count(1)

    def _next_step(self, request: RecordedRequest) -> Step:
        with self._lock:
            source = self._queue.popleft() if self._queue else self.default
        if not callable(source):
            return source
        try:
            return source(request)
        except Exception as exc:  # a test's assertion inside a scripted function: fail the call, keep serving
            with self._lock:
                self.step_errors.append(exc)
                self._changed()
            message = f"fake LLM: the scripted step raised {type(exc).__name__}: {exc}"
            return ErrorStep(400, _error_body(400, message))

    # recording and waiting

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request received, in arrival order."""
        with self._lock:
            return list(self._requests)

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def _changed(self) -> None:
        """Call with self._lock held: wake sync waiters and resolve async ones that are satisfied."""
        self._lock.notify_all()
        still: list[tuple[Callable[[], bool], asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        for predicate, loop, fut in self._async_waiters:
            if predicate():
                with contextlib.suppress(RuntimeError):  # that loop is closed
                    loop.call_soon_threadsafe(_resolve, fut)
            else:
                still.append((predicate, loop, fut))
        self._async_waiters = still

    def wait_until(self, predicate: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
        """Block until `predicate()` (evaluated under the server's lock) holds; TimeoutError otherwise."""
        with self._lock:
            if not self._lock.wait_for(predicate, timeout):
                raise TimeoutError(f"fake LLM: no {what} within {timeout}s ({self._state()})")

    async def wait_until_async(
        self, predicate: Callable[[], bool], timeout: float = 5.0, what: str = "condition"
    ) -> None:
        """The same, awaited from an asyncio event loop (does not block it)."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        with self._lock:
            if predicate():
                return
            entry = (predicate, loop, fut)
            self._async_waiters.append(entry)
        try:
            await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            raise TimeoutError(f"fake LLM: no {what} within {timeout}s ({self._state()})") from None
        finally:
            with self._lock:
                if entry in self._async_waiters:
                    self._async_waiters.remove(entry)

    def _state(self) -> str:
        return (
            f"requests={len(self._requests)} in_flight={self.in_flight} "
            f"disconnects={self.disconnects} open_connections={self.open_connections}"
        )

    def wait_for_requests(self, n: int, timeout: float = 5.0) -> list[RecordedRequest]:
        """Block until at least `n` requests arrived; returns them."""
        self.wait_until(lambda: len(self._requests) >= n, timeout, f"{n} requests")
        return self.requests

    async def wait_for_requests_async(self, n: int, timeout: float = 5.0) -> list[RecordedRequest]:
        await self.wait_until_async(lambda: len(self._requests) >= n, timeout, f"{n} requests")
        return self.requests

    def wait_for_disconnects(self, n: int = 1, timeout: float = 5.0) -> None:
        """Block until clients have dropped `n` answers (hang, delay or stream) part-way."""
        self.wait_until(lambda: self.disconnects >= n, timeout, f"{n} client disconnects")

    async def wait_for_disconnects_async(self, n: int = 1, timeout: float = 5.0) -> None:
        await self.wait_until_async(lambda: self.disconnects >= n, timeout, f"{n} client disconnects")

    def wait_for_in_flight(self, n: int, timeout: float = 5.0) -> None:
        """Block until exactly `n` requests are being answered at once."""
        self.wait_until(lambda: self.in_flight == n, timeout, f"{n} in-flight requests")

    async def wait_for_in_flight_async(self, n: int, timeout: float = 5.0) -> None:
        await self.wait_until_async(lambda: self.in_flight == n, timeout, f"{n} in-flight requests")

    # serving

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = _Connection(reader, writer)
        task = asyncio.current_task()
        assert task is not None
        self._conns[task] = conn
        with self._lock:
            self.open_connections += 1
            self.connections_total += 1
            self.max_open_connections = max(self.max_open_connections, self.open_connections)
            self._changed()
        try:
            while not conn.gone.is_set():
                parsed = await conn.read_request()
                if parsed is None:
                    break
                if not await self._serve(conn, *parsed):
                    break
        except (_Gone, ConnectionError, OSError, asyncio.CancelledError):
            pass
        finally:
            self._conns.pop(task, None)
            with self._lock:
                self.open_connections -= 1
                self._changed()
            with contextlib.suppress(Exception):
                writer.close()

    async def _serve(self, conn: _Connection, method: str, target: str, headers: dict[str, str], body: bytes) -> bool:
        """Answer one request; False to close the connection."""
        path = target.split("?", 1)[0]
        try:
            parsed: Any = json.loads(body) if body else None
        except ValueError:
            parsed = None
        with self._lock:
            record = RecordedRequest(next(self._ids), method, path, headers, body, parsed, time.monotonic())
            self._requests.append(record)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self._changed()
        keep_alive = headers.get("connection", "").lower() != "close"
        watcher = asyncio.ensure_future(conn.watch())
        try:
            if method == "POST" and path.endswith("/chat/completions"):
                step = self._next_step(record)
                record.step = step
                keep_alive = await self._answer(conn, record, step) and keep_alive
            elif method == "GET" and path.endswith("/models"):
                data = [{"id": m, "object": "model", "created": 1700000000, "owned_by": "fake-llm"} for m in MODELS]
                await self._send_json(conn, 200, {"object": "list", "data": data})
            else:
                await self._send_json(conn, 404, _error_body(404, f"no route {method} {path}"))
        except _Gone:
            keep_alive = False
            if conn.client_closed:
                record.disconnected = True
                with self._lock:
                    self.disconnects += 1
                    self._changed()
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            with self._lock:
                self.in_flight -= 1
                self._changed()
        return keep_alive

    async def _send(
        self, conn: _Connection, status: int, body: bytes, content_type: str, extra: dict[str, str]
    ) -> None:
        headers = {"Content-Type": content_type, "Content-Length": str(len(body))}
        headers.update(extra)
        await conn.write(_head(status, headers) + body)

    async def _send_json(self, conn: _Connection, status: int, obj: Any, extra: dict[str, str] | None = None) -> None:
        await self._send(conn, status, json.dumps(obj).encode(), "application/json", extra or {})

    async def _answer(self, conn: _Connection, record: RecordedRequest, step: Step) -> bool:
        """Play one step; False when the connection must be closed afterwards."""
        body = record.json if isinstance(record.json, dict) else {}
        model = str(body.get("model") or "gpt-4o-mini")
        if isinstance(step, HangStep):
            await conn.gone.wait()
            raise _Gone
        if isinstance(step, ErrorStep):
            await conn.pause(step.delay)
            if step.body is None or isinstance(step.body, dict):
                payload = step.body if step.body is not None else _error_body(step.status)
                await self._send_json(conn, step.status, payload, step.headers)
            else:
                raw = step.body.encode() if isinstance(step.body, str) else step.body
                await self._send(conn, step.status, raw, "text/plain; charset=utf-8", step.headers)
            return True
        calls: tuple[ScriptedCall, ...] = ()
        if isinstance(step, ReplyStep):
            text, delay, between, fail_after = step.text, step.delay, 0.0, None
            chunks: tuple[str, ...] = tuple(_split(step.text))
        elif isinstance(step, ToolCallsStep):
            text, delay, between, fail_after, calls = step.text, step.delay, 0.0, None, step.calls
            chunks = tuple(_split(step.text)) if step.text else ()
        else:
            chunks = step.chunks
            text, delay, between, fail_after = "".join(chunks), step.first_token_delay, step.between, step.fail_after
        prompt_tokens = step.prompt_tokens if step.prompt_tokens is not None else _approx_tokens(_prompt_text(body))
        answered = text + "".join(c.name + c.arguments for c in calls)
        completion_tokens = step.completion_tokens if step.completion_tokens is not None else _approx_tokens(answered)
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())
        if not record.stream:
            await conn.pause(delay)
            if fail_after is not None:  # a non-streaming request to a failing stream: drop it
                conn.abort()
                raise _Gone
            message: dict[str, Any] = {"role": "assistant", "content": text, "refusal": None}
            if calls:
                message["content"] = text or None  # as OpenAI sends it beside tool calls
                message["tool_calls"] = [
                    {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                    for c in calls
                ]
            choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": step.finish_reason}
            response = {
                "id": completion_id,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "system_fingerprint": "fp_fake",
                "choices": [choice],
                "usage": usage,
            }
            await self._send_json(conn, 200, response)
            return True

        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))

        def event(delta: dict[str, Any], finish: str | None = None, with_usage: bool = False) -> bytes:
            chunk: dict[str, Any] = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "system_fingerprint": "fp_fake",
                "choices": []
                if with_usage
                else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
            }
            if include_usage:
                chunk["usage"] = usage if with_usage else None
            return _chunk(b"data: " + json.dumps(chunk).encode() + b"\n\n")

        await conn.pause(delay)
        head = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "Transfer-Encoding": "chunked"}
        await conn.write(_head(200, head) + event({"role": "assistant", "content": ""}))
        for i, piece in enumerate(chunks):
            if fail_after is not None and i >= fail_after:
                break
            if i > 0:
                await conn.pause(between)
            await conn.write(event({"content": piece}))
            if record.first_token_at is None and piece:
                record.first_token_at = time.time()
        if fail_after is not None:
            conn.abort()  # no final chunk, no [DONE], no terminating zero-length chunk
            raise _Gone
        for index, c in enumerate(calls):  # as OpenAI streams them: id and name first, then the arguments
            opening = {"index": index, "id": c.id, "type": "function", "function": {"name": c.name, "arguments": ""}}
            await conn.write(event({"tool_calls": [opening]}))
            for piece in _split(c.arguments) if c.arguments else []:
                await conn.write(event({"tool_calls": [{"index": index, "function": {"arguments": piece}}]}))
        tail = event({}, step.finish_reason)
        if include_usage:
            tail += event({}, with_usage=True)
        await conn.write(tail + _chunk(b"data: [DONE]\n\n") + b"0\r\n\r\n")
        return True


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def _split(text: str, size: int = 16) -> list[str]:
    """Pieces of a reply for streaming (at least one, so an empty reply still sends a chunk)."""
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def _error_body(status: int, message: str | None = None) -> dict[str, Any]:
    kind, code = _ERROR_TYPES.get(status, ("server_error" if status >= 500 else "invalid_request_error", None))
    return {"error": {"message": message or f"fake LLM error {status}", "type": kind, "param": None, "code": code}}


@contextlib.contextmanager
def running(**kwargs: Any) -> Iterator[FakeLLM]:
    """`with running() as server:` — the same as `with FakeLLM(**kwargs) as server:`."""
    with FakeLLM(**kwargs) as server:
        yield server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fake OpenAI-compatible LLM server for benchmarks.")
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed)")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each answer")
    args = parser.parse_args(argv)
    server = FakeLLM(port=args.port, host=args.host, default=reply(GOOD_ANALYSIS_TEXT, delay=args.delay))
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    with server:
        print(f"fake LLM listening on {server.url}", flush=True)
        while not done.wait(0.5):
            pass
        print(
            f"fake LLM: {len(server.requests)} requests, max in flight {server.max_in_flight}, "
            f"disconnects {server.disconnects}",
            file=sys.stderr,
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
