"""The hostile webhook load of issue 11 (item 8) and the app's memory, for bench/memory.py and the
memory test: near-10 MB notifications, an alert with 100,000 labels, one with a 9 MB label, and
10 MB bodies that are refused; resident memory summed over the app's process tree.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import psutil

from remediation_app.settings import Settings
from tests.support.app_server import AppServer
from tests.support.payloads import am_alert, notification

MB = 1024 * 1024
LIMIT = int(Settings.model_fields["webhook_max_body_bytes"].default)
BIG_ANNOTATION = 5_000
MANY_LABELS = 100_000
HUGE_LABEL = 9 * MB
SETTLE_WINDOW_S, SETTLE_TOLERANCE_MB = 15, 1.0


def tree(app: AppServer) -> list[psutil.Process]:
    assert app.proc is not None
    root = psutil.Process(app.proc.pid)
    return [root, *root.children(recursive=True)]


def rss_mb(app: AppServer) -> float:
    total = 0
    for proc in tree(app):
        with contextlib.suppress(psutil.NoSuchProcess):
            total += proc.memory_info().rss
    return total / MB


def breakdown(app: AppServer) -> dict[str, float]:
    """RSS and PSS of the tree, and each process's RSS (server first)."""
    out: dict[str, float] = {"rss": 0.0, "pss": 0.0}
    for i, proc in enumerate(tree(app)):
        with contextlib.suppress(psutil.NoSuchProcess):
            info = proc.memory_full_info()
            out["rss"] += info.rss / MB
            out["pss"] += info.pss / MB
            out["server" if i == 0 else f"worker {proc.pid}"] = info.rss / MB
    return out


def show(label: str, figures: dict[str, float]) -> None:
    parts = ", ".join(f"{k} {v:.1f}" for k, v in figures.items() if k not in ("rss", "pss"))
    print(f"{label:<28} RSS {figures['rss']:7.1f} MB  PSS {figures['pss']:7.1f} MB   ({parts})", flush=True)


def settle(app: AppServer, max_s: float) -> float:
    """Wait until the tree's RSS stops falling (and rising): returns the seconds it took."""
    start = time.monotonic()
    samples: list[tuple[float, float]] = []
    while time.monotonic() - start < max_s:
        now = time.monotonic()
        samples.append((now, rss_mb(app)))
        window = [rss for at, rss in samples if at >= now - SETTLE_WINDOW_S]
        if now - start >= SETTLE_WINDOW_S and max(window) - min(window) <= SETTLE_TOLERANCE_MB:
            break
        time.sleep(1.0)
    return time.monotonic() - start


@contextlib.contextmanager
def peak_sampler(app: AppServer) -> Iterator[Callable[[], float]]:
    peak = 0.0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.wait(0.2):
            with contextlib.suppress(psutil.Error):
                peak = max(peak, rss_mb(app))

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield lambda: peak
    finally:
        stop.set()
        thread.join()


def big_notification(tag: str) -> bytes:
    """As many ~5 KB alerts as fit in WEBHOOK_MAX_BODY_BYTES (less 50 KB)."""
    starts = datetime.now(UTC).isoformat()

    def alert(i: int) -> dict[str, Any]:
        return am_alert(
            f"BenchBig{i % 50}",
            fingerprint=f"{tag}{i:08x}",
            starts_at=starts,
            annotations={"description": f"{i:08d} " + "d" * BIG_ANNOTATION},
        )

    count = (LIMIT - 50_000) // (len(json.dumps(alert(0))) + 2)
    body = json.dumps(notification(*(alert(i) for i in range(count)))).encode()
    assert LIMIT - 100_000 < len(body) <= LIMIT, len(body)
    return body


def many_labels(tag: str) -> bytes:
    labels = {f"label_{i:06d}": f"value-{i}" for i in range(MANY_LABELS)}
    return json.dumps(notification(am_alert("BenchManyLabels", fingerprint=f"{tag}-many", labels=labels))).encode()


def huge_label(tag: str) -> bytes:
    labels = {"blob": "x" * HUGE_LABEL}
    return json.dumps(notification(am_alert("BenchHugeLabel", fingerprint=f"{tag}-huge", labels=labels))).encode()


def hostile_bodies(round_no: int) -> list[tuple[str, bytes, int]]:
    """(what, body, expected status) for one round."""
    tag = f"r{round_no}{uuid.uuid4().hex[:4]}"
    return [
        ("10 MB notification", big_notification(tag), 200),
        ("100,000 labels", many_labels(tag), 200),
        ("9 MB label", huge_label(tag), 200),
        ("10 MB invalid JSON", b"{" + b'"x": "' + b"y" * (LIMIT - 20) + b"...", 400),
        ("body over the limit", b"z" * (LIMIT + 1), 413),
    ]


async def post_all(url: str, token: str, bodies: list[tuple[str, bytes, int]], concurrency: int) -> list[float]:
    """POST each body to the webhook, `concurrency` at once; the seconds each took. Raises on an
    unexpected status."""
    limit = asyncio.Semaphore(concurrency)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=300) as client:

        async def one(what: str, body: bytes, expected: int) -> float:
            async with limit:
                t0 = time.perf_counter()
                try:
                    response = await client.post("/webhook/alerts", content=body)
                except httpx.TransportError as exc:
                    # A server may answer 413 from Content-Length and close before reading the body.
                    if expected == 413:
                        return time.perf_counter() - t0
                    raise RuntimeError(f"{what}: {exc!r}") from exc
                if response.status_code != expected:
                    raise RuntimeError(
                        f"{what}: expected {expected}, got {response.status_code}: {response.text[:300]}"
                    )
                return time.perf_counter() - t0

        return await asyncio.gather(*(one(*item) for item in bodies))


def warm_up(app: AppServer, token: str) -> None:
    """What an idle, in-use app has done: a few small webhooks, the pages, the API, a scrape."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=app.url, timeout=60, follow_redirects=True) as client:
        for i in range(20):
            body = notification(am_alert(f"BenchWarm{i % 4}", labels={"team": f"t{i % 3}"}))
            response = client.post("/webhook/alerts", json=body, headers=headers)
            response.raise_for_status()
        for path in ("/", "/login", "/healthz", "/readyz", "/metrics"):
            client.get(path).raise_for_status()
        client.get("/api/alerts", headers=app.bearer()).raise_for_status()
