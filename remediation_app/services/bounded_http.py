"""The bounded HTTP client under every system the engine calls (Prometheus-compatible datasources,
Alertmanager): one timeout for a whole request (connect, answer, body), a body read as a stream and
abandoned past a size, and every failure one exception (`RemoteError` or the caller's subclass)
whose message names the system and never carries its credentials.

Also here: `JsonScanner`, which reads a large JSON text one value at a time so that a worker thread
parsing it hands the GIL back between values (the event loop keeps running meanwhile).
"""

from __future__ import annotations

import asyncio
import base64
import errno
import functools
import json
import logging
import re
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, TypeVar
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx

ErrorKind = Literal["invalid", "unreachable", "timeout", "auth", "http", "not_json", "query", "too_large"]
# Longest text taken from an answer into a message.
ERROR_TEXT_MAX = 300
USER_AGENT = "remediation-engine"
# Shorter secrets are not masked in messages: masking "ab" would mangle ordinary words.
_SECRET_MIN = 4
T = TypeVar("T")


class RemoteError(Exception):
    """A failed call. `kind`: "invalid" (refused before sending), "unreachable" (refused, unknown
    host, TLS, dropped connection), "timeout", "auth" (401/403), "http" (another status),
    "not_json", "query" (the API's own error), "too_large". `detail` is the message without the
    prefix naming the system; `status` the HTTP status when there was one."""

    def __init__(self, message: str, *, kind: ErrorKind, status: int | None = None) -> None:
        super().__init__(message)
        self.detail = message
        self.kind: ErrorKind = kind
        self.status = status


@dataclass(frozen=True)
class Endpoint:
    """Where a system is and how to log in. A bearer token wins over a user and password; a user
    and password inside `url` (http://user:pass@host) are used when none are given apart."""

    name: str
    url: str
    bearer_token: str = ""
    username: str = ""
    password: str = ""
    timeout_s: float = 15.0
    verify_tls: bool = True
    # Extra request headers, e.g. X-Scope-OrgID for a Mimir tenant.
    headers: Mapping[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:  # never print credentials
        return f"{type(self).__name__}(name={self.name!r}, url={display_url(self.url)!r})"


def display_url(url: str) -> str:
    """`url` fit to show: no user, password, query string or fragment."""
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. a broken IPv6 address
        return "(invalid URL)"
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def short_text(text: object) -> str:
    """Text from a remote system fit for one line of a message: printable, cut to ERROR_TEXT_MAX."""
    flat = " ".join(str(text).split())
    cleaned = "".join(ch if ch.isprintable() else "\ufffd" for ch in flat)
    return cleaned if len(cleaned) <= ERROR_TEXT_MAX else cleaned[: ERROR_TEXT_MAX - 1] + "…"


@functools.cache
def _tls_context(verify: bool) -> ssl.SSLContext:
    """One TLS context per process: building one loads the CA bundle (~40 ms of CPU on the event
    loop), which a new client per call would pay every time, even for plain http://."""
    return httpx.create_ssl_context(verify=verify)


def _connect_reason(exc: BaseException) -> str:
    """Why connecting failed, from the OS error under httpx's ("All connection attempts failed")."""
    causes: list[BaseException] = []
    cause: BaseException | None = exc
    while cause is not None and len(causes) < 10:
        causes.append(cause)
        cause = cause.__cause__ or cause.__context__
    for cause in causes:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return "TLS certificate not trusted"
        if isinstance(cause, socket.gaierror):
            return "host name not found"
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused (is it running, is the port right?)"
        if isinstance(cause, OSError) and cause.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
            return "host or network unreachable"
        if isinstance(cause, ssl.SSLError):
            return "TLS handshake failed"
    return "cannot connect"


class BoundedHttp:
    """One endpoint; `async with Client(endpoint) as c:` closes its connections. A subclass names
    what it talks to (`noun`, in every message), its exception class (`error`), what to say when
    an answer is too large (`too_large_hint`), and which failures are the asker's doing (logged at
    INFO, the rest at WARNING)."""

    noun: ClassVar[str] = "service"
    error: ClassVar[type[RemoteError]] = RemoteError
    too_large_hint: ClassVar[str] = ""
    askers_kinds: ClassVar[tuple[str, ...]] = ("invalid",)

    def __init__(
        self, config: Endpoint, *, response_bytes: int, parse_in_thread_bytes: int, quiet: bool = False
    ) -> None:
        self.config = config
        self.quiet = quiet  # failures logged at DEBUG: the caller logs them (once, for a loop)
        self.response_bytes = response_bytes
        self.parse_in_thread_bytes = parse_in_thread_bytes
        self.display_url = display_url(config.url)
        try:
            parts = urlsplit(config.url)
        except ValueError:
            parts = urlsplit("")
        username = config.username or unquote(parts.username or "")
        password = config.password or unquote(parts.password or "")
        self._secrets = self._secret_texts(parts.password or "", username, password)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise self._named(self.error("the URL must look like http(s)://host[:port][/path]", kind="invalid"))
        if not config.timeout_s > 0:
            raise self._named(self.error("the timeout must be a positive number of seconds", kind="invalid"))
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT, **config.headers}
        auth: httpx.BasicAuth | None = None
        if config.bearer_token:
            headers["Authorization"] = f"Bearer {config.bearer_token}"
        elif username or password:
            auth = httpx.BasicAuth(username, password)
        self._http = httpx.AsyncClient(
            base_url=urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", "")),
            auth=auth,
            headers=headers,
            timeout=config.timeout_s,
            verify=_tls_context(config.verify_tls),
            follow_redirects=False,
        )

    def _secret_texts(self, raw_password: str, username: str, password: str) -> list[str]:
        """Everything a server could echo back that must not reach a message: the token, the
        password (as given and as written in the URL), the Basic header, extra header values."""
        texts = [self.config.bearer_token, password, raw_password, *self.config.headers.values()]
        if username or password:
            texts.append(base64.b64encode(f"{username}:{password}".encode()).decode())
        return sorted({t for t in texts if len(t) >= _SECRET_MIN}, key=len, reverse=True)

    async def __aenter__(self) -> Any:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _exchange(self, attempt: Callable[[], Awaitable[tuple[int, bytes]]]) -> tuple[int, bytes]:
        """Run `attempt` (one or more `_fetch`es) within the timeout, from connecting to the last
        byte of the body; every failure becomes this client's error, named."""
        timeout = self.config.timeout_s
        try:
            async with asyncio.timeout(timeout):
                return await attempt()
        except (TimeoutError, httpx.TimeoutException):
            raise self._named(self.error(f"no complete answer within {timeout:g} s", kind="timeout")) from None
        except httpx.ConnectError as exc:
            raise self._named(self.error(_connect_reason(exc), kind="unreachable")) from None
        except (httpx.NetworkError, httpx.RemoteProtocolError):
            detail = "the connection broke before a complete answer"
            raise self._named(self.error(detail, kind="unreachable")) from None
        except httpx.DecodingError:
            raise self._named(self.error("the answer's encoding is broken", kind="not_json")) from None
        except httpx.HTTPError as exc:
            detail = f"request failed ({type(exc).__name__})"
            raise self._named(self.error(detail, kind="unreachable")) from None
        except RemoteError as exc:
            raise self._named(exc) from None

    async def _fetch(self, method: str, path: str, **request: Any) -> tuple[int, bytes]:
        """The status and the body, read as a stream and abandoned past `response_bytes`."""
        cap = self.response_bytes
        too_large = self.error(f"the answer is larger than {cap / 1048576:g} MB{self.too_large_hint}", kind="too_large")
        async with self._http.stream(method, path, **request) as response:
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > cap and "content-encoding" not in response.headers:
                raise too_large
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > cap:
                    raise too_large
                chunks.append(chunk)
            return response.status_code, b"".join(chunks)

    async def _decode(self, decode: Callable[[int, bytes], T], status: int, body: bytes) -> T:
        """`decode(status, body)`, in a worker thread for a large body; its error named."""
        try:
            if len(body) > self.parse_in_thread_bytes:
                return await asyncio.to_thread(decode, status, body)
            return decode(status, body)
        except RemoteError as exc:
            raise self._named(exc) from None

    def _named(self, error: Any) -> Any:
        """The error as users (and models) see it: which system, credentials masked; logged."""
        text = error.detail
        for secret in self._secrets:
            text = text.replace(secret, "***")
        error.args = (f"{self.noun} {self.config.name!r} at {self.display_url}: {text}",)
        error.detail = text
        # Logged under the client's module (investigation.prometheus, alertmanager.client).
        logging.getLogger(type(self).__module__).log(
            logging.DEBUG if self.quiet else logging.INFO if error.kind in self.askers_kinds else logging.WARNING,
            f"{self.noun} call failed",
            extra={self.noun.lower(): self.config.name, "url": self.display_url, "kind": error.kind, "error": text},
        )
        return error


_DECODER = json.JSONDecoder()
_SPACE = re.compile(r"[ \t\n\r]*")


class JsonScanner:
    """Reads a JSON text one value at a time (json's raw_decode per value). A worker thread running
    it hands the GIL back between values; json.loads of a whole body would hold it throughout, and
    so stall the event loop however much it runs in a thread. Raises ValueError on malformed JSON."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def _skip_space(self) -> None:
        space = _SPACE.match(self.text, self.pos)
        assert space is not None  # the pattern matches the empty string
        self.pos = space.end()

    def take(self, char: str) -> bool:
        self._skip_space()
        if self.text.startswith(char, self.pos):
            self.pos += 1
            return True
        return False

    def expect(self, char: str) -> None:
        if not self.take(char):
            raise ValueError(f"expected {char!r} at {self.pos}")

    def peek(self, char: str) -> bool:
        self._skip_space()
        return self.text.startswith(char, self.pos)

    def value(self) -> Any:
        self._skip_space()
        value, self.pos = _DECODER.raw_decode(self.text, self.pos)
        return value

    def object_keys(self) -> Iterator[str]:
        """The keys of the object here; the caller reads each one's value before asking for the next."""
        self.expect("{")
        if self.take("}"):
            return
        while True:
            key = self.value()
            if not isinstance(key, str):
                raise ValueError("an object key is not a string")
            self.expect(":")
            yield key
            if not self.take(","):
                break
        self.expect("}")

    def elements(self) -> Iterator[None]:
        """Once per element of the array here; the caller reads each element."""
        self.expect("[")
        if self.take("]"):
            return
        while True:
            yield None
            if not self.take(","):
                break
        self.expect("]")

    def end(self) -> None:
        self._skip_space()
        if self.pos != len(self.text):
            raise ValueError("data after the JSON value")
