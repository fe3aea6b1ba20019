"""The browser terminal's path: WebSocket -> AsyncSSH -> OpenSSH sshd, all on loopback.

    .venv/bin/python bench/terminal.py [--echoes 200] [--megabytes 64]

Starts a real sshd (tests/support/sshd.py, generated keys, a high port) and the API alone under
granian (tests/support/api_server.py, SQLite), adds the server through the API (host key fetched and
pinned), and opens terminals the way the browser does (one-time ticket, same-origin WebSocket,
acknowledgements for flow control). Measures:

- keystroke echo latency: one character typed -> its echo back on the WebSocket, p50/p99, with 1
  session and with 10 sessions typing at once; the same with a raw AsyncSSH PTY (no WebSocket, no
  bridge) as the baseline measured in the same run;
- output throughput: `head -c N /dev/zero | tr` streamed to the client, which acknowledges as it
  reads, in MB/s, and the server's resident memory growth during it (the granian process tree),
  measured on a second transfer (the first, reported too, raises the allocator's high-water mark);
- Ctrl-C under `yes`: time from sending Ctrl-C to the `^C` echo (all output queued before it has
  been delivered by then).

Human-readable lines first; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python bench/terminal.py` puts bench/, not the repository, first
    sys.path.insert(0, str(ROOT))

import asyncssh  # noqa: E402
import httpx  # noqa: E402
import psutil  # noqa: E402
from websockets.asyncio.client import ClientConnection, connect  # noqa: E402

from tests.support.api_server import ApiServer  # noqa: E402
from tests.support.benchmarking import code_version, machine, percentile  # noqa: E402
from tests.support.databases import sqlite_url  # noqa: E402
from tests.support.sshd import Sshd, sshd_available  # noqa: E402

PASSWORD = "bench-terminal-password"


class Term:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.out = bytearray()

    async def send(self, **message: Any) -> None:
        await self.ws.send(json.dumps(message))

    async def frame(self) -> bytes:
        while True:
            frame = await self.ws.recv()
            if isinstance(frame, bytes):
                await self.send(type="ack", bytes=len(frame))
                return frame

    async def until(self, needle: bytes, limit_s: float = 30.0) -> None:
        async with asyncio.timeout(limit_s):
            while needle not in self.out:
                self.out += await self.frame()

    async def quiet(self, seconds: float = 0.3) -> None:
        """Read until nothing arrives for `seconds` (the prompt has settled)."""
        while True:
            try:
                async with asyncio.timeout(seconds):
                    self.out += await self.frame()
            except TimeoutError:
                return


async def admin_token() -> str:
    from remediation_app.db import async_session, dispose_engines
    from remediation_app.services.tokens import issue_token
    from remediation_app.services.users import create_user

    async with async_session() as session:
        user = await create_user(session, actor="bench", username="bench-admin", password=PASSWORD, role="admin")
        await session.commit()
        token = issue_token(user, minutes=120)[0]
    await dispose_engines()
    return token


async def open_term(api: ApiServer, http: httpx.AsyncClient, server_id: int) -> Term:
    ticket = (await http.post("/api/terminal/tickets", json={"server_id": server_id})).json()["ticket"]
    ws = await connect(api.ws_url + "/ws/terminal", origin=api.url, max_size=2**22)  # type: ignore[arg-type]
    term = Term(ws)
    await term.send(type="auth", ticket=ticket, cols=120, rows=40)
    ready = json.loads(await ws.recv())
    if ready.get("type") != "ready":
        raise RuntimeError(f"terminal refused: {ready}")
    await term.send(type="input", data="stty -echoctl 2>/dev/null; stty echoctl; PS1='$ '\r")
    await term.quiet()
    return term


async def echo_latencies(term: Term, count: int) -> list[float]:
    """Type a character, wait for its echo; every 50 characters, Ctrl-U clears the line."""
    samples = []
    for i in range(count):
        char = "abcdefghij"[i % 10]
        term.out.clear()
        started = time.perf_counter()
        await term.send(type="input", data=char)
        await term.until(char.encode())
        samples.append((time.perf_counter() - started) * 1000)
        if i % 50 == 49:
            await term.send(type="input", data="\x15")
            await term.quiet(0.1)
    await term.send(type="input", data="\x15")
    await term.quiet(0.1)
    return samples


async def raw_echo_latencies(sshd: Sshd, count: int) -> list[float]:
    key = asyncssh.import_public_key(sshd.host_key_line)
    async with asyncssh.connect(
        sshd.host,
        sshd.port,
        username=sshd.username,
        known_hosts=([key], [], []),
        client_keys=[asyncssh.import_private_key(sshd.client_key)],
        agent_path=None,
        config=None,
    ) as conn:
        process = await conn.create_process(term_type="xterm-256color", term_size=(120, 40), encoding=None)
        process.stdin.write(b"PS1='$ '\r")
        await asyncio.sleep(0.5)
        while True:  # drain the banner and the prompt
            try:
                async with asyncio.timeout(0.3):
                    await process.stdout.read(65536)
            except TimeoutError:
                break
        samples = []
        for i in range(count):
            char = "abcdefghij"[i % 10].encode()
            started = time.perf_counter()
            process.stdin.write(char)
            got = b""
            while char not in got:
                got += await process.stdout.read(65536)
            samples.append((time.perf_counter() - started) * 1000)
            if i % 50 == 49:
                process.stdin.write(b"\x15")
                await asyncio.sleep(0.05)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(0.1):
                        await process.stdout.read(65536)
        process.close()
    return samples


def tree_rss_mb(pid: int) -> float:
    parent = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [parent, *parent.children(recursive=True)]) / 1024 / 1024


async def throughput(term: Term, pid: int, megabytes: int) -> tuple[float, float]:
    """(MB/s, peak RSS growth in MB) for `megabytes` of output."""
    size = megabytes * 1024 * 1024
    base = tree_rss_mb(pid)
    peak = base
    await term.send(type="input", data=f"head -c {size} /dev/zero | tr '\\0' x; echo; echo END-$((2+3))\r")
    received = 0
    started = time.perf_counter()
    tail = b""
    last_sample = started
    async with asyncio.timeout(600):
        while b"END-5" not in tail:
            frame = await term.frame()
            received += len(frame)
            tail = (tail + frame)[-64:]
            if time.perf_counter() - last_sample > 0.2:
                peak, last_sample = max(peak, tree_rss_mb(pid)), time.perf_counter()
    elapsed = time.perf_counter() - started
    return received / 1024 / 1024 / elapsed, peak - base


async def ctrl_c(term: Term) -> float:
    await term.send(type="input", data="yes\r")
    for _ in range(20):  # well into the flood
        await term.frame()
    term.out.clear()
    started = time.perf_counter()
    await term.send(type="input", data="\x03")
    await term.until(b"^C")
    elapsed = (time.perf_counter() - started) * 1000
    await term.quiet()
    return elapsed


async def run(api: ApiServer, sshd: Sshd, echoes: int, megabytes: int) -> dict[str, float]:
    token = await admin_token()
    async with httpx.AsyncClient(base_url=api.url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        created = await http.post(
            "/api/ssh-servers",
            json={
                "name": "bench",
                "host": sshd.host,
                "port": sshd.port,
                "username": sshd.username,
                "private_key": sshd.client_key,
            },
        )
        server_id = created.json()["id"]
        fingerprint = (await http.post(f"/api/ssh-servers/{server_id}/host-key")).json()["fingerprint"]
        await http.post(f"/api/ssh-servers/{server_id}/host-key/accept", json={"fingerprint": fingerprint})

        term = await open_term(api, http, server_id)
        await echo_latencies(term, 20)  # warm up
        one = await echo_latencies(term, echoes)
        raw = await raw_echo_latencies(sshd, echoes)
        print(
            f"echo, 1 session: p50 {percentile(one, 50):.2f} ms, p99 {percentile(one, 99):.2f} ms "
            f"(raw AsyncSSH: p50 {percentile(raw, 50):.2f} ms, p99 {percentile(raw, 99):.2f} ms)"
        )
        # The first transfer raises the allocator's high-water mark once (buffers, SQLite's cache); the
        # second shows whether memory grows with the volume streamed (it must not).
        _, warmup_growth = await throughput(term, api.pid, megabytes)
        rate, growth = await throughput(term, api.pid, megabytes)
        print(
            f"throughput: {rate:.1f} MB/s over {megabytes} MB; server RSS growth {growth:.1f} MB "
            f"(first transfer: {warmup_growth:.1f} MB)"
        )
        ctrl_c_ms = await ctrl_c(term)
        print(f"Ctrl-C under `yes`: ^C echoed after {ctrl_c_ms:.1f} ms")
        await term.ws.close()

        terms = [await open_term(api, http, server_id) for _ in range(10)]
        many = await asyncio.gather(*(echo_latencies(t, max(20, echoes // 4)) for t in terms))
        ten = [s for samples in many for s in samples]
        print(f"echo, 10 sessions at once: p50 {percentile(ten, 50):.2f} ms, p99 {percentile(ten, 99):.2f} ms")
        for t in terms:
            await t.ws.close()
    return {
        "echo_p50_ms": round(percentile(one, 50), 2),
        "echo_p99_ms": round(percentile(one, 99), 2),
        "throughput_mb_s": round(rate, 1),
        "server_rss_growth_mb": round(growth, 1),
        "server_rss_growth_first_transfer_mb": round(warmup_growth, 1),
        "ctrl_c_ms": round(ctrl_c_ms, 1),
        "echo_p99_ms_10_sessions": round(percentile(ten, 99), 2),
        "echo_p50_ms_10_sessions": round(percentile(ten, 50), 2),
        "raw_ssh_echo_p50_ms": round(percentile(raw, 50), 2),
        "raw_ssh_echo_p99_ms": round(percentile(raw, 99), 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--echoes", type=int, default=200, help="keystrokes measured (default 200)")
    parser.add_argument("--megabytes", type=int, default=64, help="output streamed (default 64 MB)")
    args = parser.parse_args()
    if not sshd_available():
        print("OpenSSH sshd is not installed (make test-deps)", file=sys.stderr)
        return 2
    print(f"machine: {machine()}")
    print(f"date: {datetime.now(UTC).isoformat(timespec='seconds')}; code: {code_version()}")
    with tempfile.TemporaryDirectory(prefix="bench-terminal-") as tmp:
        os.environ.update(
            DATABASE_URL=sqlite_url(Path(tmp)), DATA_DIR=tmp, LOG_LEVEL="WARNING", TERMINAL_MAX_SESSIONS_PER_USER="20"
        )
        from remediation_app.services import migrations
        from remediation_app.settings import get_settings

        get_settings.cache_clear()
        migrations.upgrade(os.environ["DATABASE_URL"])
        with Sshd(Path(tmp) / "sshd") as sshd, ApiServer(log=Path(tmp) / "api.log") as api:
            figures = asyncio.run(run(api, sshd, args.echoes, args.megabytes))
    print(json.dumps(figures), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
