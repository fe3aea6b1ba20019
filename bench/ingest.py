"""Webhook ingest: alerts persisted per second and latency, against the real app on PostgreSQL.

    .venv/bin/python bench/ingest.py [--duration 8] [--concurrency 8] [--redis]

Starts the app (`python -m remediation_app serve`, tests/support/app_server.AppServer) on a loopback port
with a fresh PostgreSQL database, then, for payloads of 1, 10 and 100 alerts, posts from
`--concurrency` concurrent httpx clients for `--duration` seconds (at most MAX_PAYLOADS each).
Every alert has a unique fingerprint, so every alert is a real insert; the rows are counted in
the database afterwards. The floor is the same rows written straight to PostgreSQL (another
fresh database, same migrations) with one multi-row INSERT per payload over the same number of
psycopg connections. Then a paced run: 20 payloads/s of 10 alerts for 10 s, latency measured
from each request's scheduled send time (so a stall counts). Everything is stopped at the end.
`--workers N` sets GRANIAN_WORKERS (Reflex runs one worker unless REDIS_URL is set).

Human-readable lines first; the last line is one JSON object. Needs PostgreSQL on 127.0.0.1:5432.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python bench/ingest.py` puts bench/, not the repository, first
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import psutil  # noqa: E402
import psycopg  # noqa: E402
from psycopg.types.json import Json  # noqa: E402

from remediation_app.services import migrations  # noqa: E402
from tests.support.app_server import AppServer  # noqa: E402
from tests.support.benchmarking import code_version, machine, percentile  # noqa: E402
from tests.support.databases import postgres_available, temporary_postgres  # noqa: E402
from tests.support.payloads import am_alert, notification  # noqa: E402

TOKEN = "bench-ingest-token"
SIZES = (1, 10, 100)
MAX_PAYLOADS = {1: 20_000, 10: 5_000, 100: 1_000}  # bounds each run whatever the duration
PACED_RATE, PACED_SIZE, PACED_SECONDS = 20, 10, 10
SEVERITIES = ("critical", "warning", "info", "warning")
COLUMNS = (
    "fingerprint",
    "starts_at",
    "ends_at",
    "status",
    "alertname",
    "severity",
    "instance",
    "job",
    "summary",
    "labels",
    "annotations",
    "generator_url",
    "group_key",
    "receiver",
    "first_received_at",
    "last_received_at",
    "times_notified",
    "action",
    "matched_rule_id",
    "matched_rule_name",
    "match_reason",
)


def app_cpu_seconds(app: AppServer) -> float:
    """User + system CPU of the app's process tree (Reflex supervisor and granian workers)."""
    if app.proc is None:
        return 0.0
    total = 0.0
    try:
        root = psutil.Process(app.proc.pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    for proc in procs:
        try:
            times = proc.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


class Alerts:
    """Unique alerts, made on demand: `batch(n)` returns n Alertmanager alert dicts."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.seq = 0
        self.starts_at = datetime.now(UTC).isoformat()

    def batch(self, n: int) -> list[dict[str, Any]]:
        alerts = []
        for _ in range(n):
            self.seq += 1
            i = self.seq
            alerts.append(
                am_alert(
                    f"BenchAlert{i % 37}",
                    severity=SEVERITIES[i % len(SEVERITIES)],
                    instance=f"node-{i % 211}:9100",
                    fingerprint=f"{self.prefix}{i:012x}",
                    starts_at=self.starts_at,
                    labels={"team": f"team-{i % 5}", "region": "eu-west-1"},
                )
            )
        return alerts


def webhook_body(alerts: list[dict[str, Any]]) -> bytes:
    return json.dumps(notification(*alerts, receiver="bench")).encode()


def floor_params(alerts: list[dict[str, Any]], now: datetime) -> list[Any]:
    """The row values the app would write for these alerts, flattened for one multi-row INSERT."""
    params: list[Any] = []
    for a in alerts:
        labels = a["labels"]
        params += [
            a["fingerprint"],
            datetime.fromisoformat(a["startsAt"]),
            None,
            a["status"],
            labels["alertname"],
            labels["severity"],
            labels["instance"],
            labels["job"],
            a["annotations"]["summary"],
            Json(labels),
            Json(a["annotations"]),
            a["generatorURL"],
            '{}:{alertname="x"}',
            "bench",
            now,
            now,
            1,
            "manual",
            None,
            "Catch-all",
            "no earlier rule matched",
        ]
    return params


def insert_sql(rows: int) -> str:
    one = "(" + ", ".join(["%s"] * len(COLUMNS)) + ")"
    return f"INSERT INTO alerts ({', '.join(COLUMNS)}) VALUES " + ", ".join([one] * rows)


async def closed_loop(
    send: Callable[[int], Awaitable[int]], workers: int, duration: float, max_calls: int
) -> tuple[int, float, list[float]]:
    """`workers` tasks call send(worker) back to back until `duration` or `max_calls`.

    Returns (alerts stored, elapsed seconds, per-call latencies in ms); send returns alerts stored.
    """
    latencies: list[float] = []
    stored = 0
    calls = iter(range(max_calls))
    deadline = time.perf_counter() + duration

    async def worker(index: int) -> None:
        nonlocal stored
        for _ in calls:
            if time.perf_counter() >= deadline:
                return
            t0 = time.perf_counter()
            n = await send(index)  # not `stored += await ...`: that reads `stored` before awaiting
            latencies.append((time.perf_counter() - t0) * 1000)
            stored += n

    start = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(workers)))
    return stored, time.perf_counter() - start, latencies


class AppTarget:
    def __init__(self, url: str, concurrency: int) -> None:
        self.client = httpx.AsyncClient(
            base_url=url,
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
            limits=httpx.Limits(max_connections=concurrency + 4, max_keepalive_connections=concurrency + 4),
            timeout=30,
        )

    async def post(self, body: bytes, expected: int) -> int:
        response = await self.client.post("/webhook/alerts", content=body)
        if response.status_code != 200:
            raise RuntimeError(f"webhook answered {response.status_code}: {response.text[:300]}")
        created = int(response.json()["created"])
        if created != expected:
            raise RuntimeError(f"expected {expected} new alerts, the app created {created}")
        return created


async def run_app_sizes(
    app: AppServer, target: AppTarget, alerts: Alerts, concurrency: int, duration: float
) -> dict[int, dict[str, float]]:
    results = {}
    for size in SIZES:
        cpu_before, client_before = app_cpu_seconds(app), time.process_time()

        # Bodies are made outside the timed request, but inside the wall time (as a real sender would).
        async def send(_worker: int, size: int = size) -> int:
            return await target.post(webhook_body(alerts.batch(size)), size)

        stored, elapsed, lat = await closed_loop(send, concurrency, duration, MAX_PAYLOADS[size])
        app_cpu, client_cpu = app_cpu_seconds(app) - cpu_before, time.process_time() - client_before
        results[size] = {
            "alerts_per_s": stored / elapsed,
            "payloads": len(lat),
            "alerts": stored,
            "p50_ms": percentile(lat, 50),
            "p99_ms": percentile(lat, 99),
            "app_cpu_ms_per_alert": 1000 * app_cpu / stored,
            "app_cpu_share": app_cpu / elapsed,
            "client_cpu_share": client_cpu / elapsed,
        }
    return results


async def run_floor_sizes(url: str, concurrency: int, duration: float) -> dict[int, dict[str, float]]:
    alerts = Alerts(f"f{uuid.uuid4().hex[:3]}")
    conns = [await psycopg.AsyncConnection.connect(url, autocommit=True) for _ in range(concurrency)]
    results = {}
    try:
        for size in SIZES:
            sql = insert_sql(size)

            async def send(worker: int, size: int = size, sql: str = sql) -> int:
                await conns[worker].execute(sql, floor_params(alerts.batch(size), datetime.now(UTC)))
                return size

            stored, elapsed, lat = await closed_loop(send, concurrency, duration, MAX_PAYLOADS[size])
            results[size] = {
                "alerts_per_s": stored / elapsed,
                "payloads": len(lat),
                "alerts": stored,
                "p50_ms": percentile(lat, 50),
                "p99_ms": percentile(lat, 99),
            }
    finally:
        for conn in conns:
            await conn.close()
    return results


async def run_paced(target: AppTarget, alerts: Alerts) -> dict[str, float]:
    """Open loop: payload i is due at start + i/rate; latency counts from when it was due."""
    total = PACED_RATE * PACED_SECONDS
    bodies = [webhook_body(alerts.batch(PACED_SIZE)) for _ in range(total)]
    latencies: list[float] = []
    start = time.perf_counter() + 0.2

    async def one(i: int) -> None:
        due = start + i / PACED_RATE
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        await target.post(bodies[i], PACED_SIZE)
        latencies.append((time.perf_counter() - due) * 1000)

    await asyncio.gather(*(one(i) for i in range(total)))
    return {
        "payloads": total,
        "elapsed_s": time.perf_counter() - start,
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
        "max_ms": max(latencies),
    }


def count_rows(sqlalchemy_url: str, prefix: str) -> int:
    url = sqlalchemy_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM alerts WHERE fingerprint LIKE %s", (prefix + "%",)).fetchone()
    return int(row[0]) if row else 0


async def measure_app(app: AppServer, args: argparse.Namespace) -> dict[str, Any]:
    target = AppTarget(app.url, args.concurrency)
    try:
        warm = Alerts("w00")
        for _ in range(20):
            await target.post(webhook_body(warm.batch(10)), 10)
        bench_alerts = Alerts(f"a{uuid.uuid4().hex[:3]}")
        app_results = await run_app_sizes(app, target, bench_alerts, args.concurrency, args.duration)
        stored = count_rows(app.database_url, bench_alerts.prefix)
        expected = sum(int(r["alerts"]) for r in app_results.values())
        if stored != expected:
            raise RuntimeError(f"the app acknowledged {expected} new alerts but {stored} rows are in the database")
        print(f"verified: {stored} acknowledged alerts are rows in the app's database")
        paced = await run_paced(target, Alerts(f"p{uuid.uuid4().hex[:3]}"))
    finally:
        await target.client.aclose()
    return {"app": app_results, "paced": paced}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per payload size (default 8)")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent clients (default 8)")
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="granian workers (GRANIAN_WORKERS); default: Reflex's choice, 1 without REDIS_URL",
    )
    args = parser.parse_args()
    if not postgres_available():
        print("PostgreSQL is not reachable on 127.0.0.1:5432", file=sys.stderr)
        return 2
    print(f"machine: {machine()}")
    print(f"date: {datetime.now(UTC).isoformat(timespec='seconds')}; code: {code_version()}")
    env = {"WEBHOOK_TOKEN": TOKEN}
    if args.workers:
        # Enough for the webhook; the dashboard's live push needs REDIS_URL with several workers.
        env["GRANIAN_WORKERS"] = str(args.workers)
    with (
        tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp,
        temporary_postgres("re_bench_app") as app_url,
        temporary_postgres("re_bench_floor") as floor_url,
    ):
        migrations.upgrade(floor_url)
        print("starting the app (python -m remediation_app serve) on PostgreSQL ...", flush=True)
        app = AppServer(
            database_url=app_url, data_dir=Path(tmp), name="bench-ingest", env=env, work_dir=Path(tmp) / "reflex"
        )
        try:
            app.start()
            workers = len(app.worker_pids())
            print(
                f"app at {app.url} ({workers} worker process(es)); "
                f"{args.concurrency} concurrent clients, {args.duration:g} s per payload size"
            )
            results = asyncio.run(measure_app(app, args))
            results["workers"] = workers
        except BaseException:
            print(app.log_tail(), file=sys.stderr)
            raise
        finally:
            app.stop()
        print("floor: the same rows straight into PostgreSQL (app stopped) ...", flush=True)
        floor_dsn = floor_url.replace("postgresql+psycopg://", "postgresql://")
        results["floor"] = asyncio.run(run_floor_sizes(floor_dsn, args.concurrency, min(args.duration, 4.0)))

    summary: dict[str, Any] = {}
    print(f"\n{'payload':>8} {'app alerts/s':>13} {'floor alerts/s':>15} {'ratio':>6} {'p50 ms':>8} {'p99 ms':>8}")
    for size in SIZES:
        a, f = results["app"][size], results["floor"][size]
        ratio = a["alerts_per_s"] / f["alerts_per_s"] if f["alerts_per_s"] else 0.0
        print(
            f"{size:>8} {a['alerts_per_s']:>13.0f} {f['alerts_per_s']:>15.0f} {ratio:>6.3f} "
            f"{a['p50_ms']:>8.1f} {a['p99_ms']:>8.1f}   ({a['payloads']} payloads; floor p50 {f['p50_ms']:.1f} ms)"
        )
        print(
            f"{'':>8} app CPU {a['app_cpu_ms_per_alert']:.2f} ms per alert (= {1000 / a['app_cpu_ms_per_alert']:.0f} "
            f"alerts per CPU-second); CPU busy: app {a['app_cpu_share']:.2f} cores, "
            f"this client {a['client_cpu_share']:.2f} cores"
        )
        summary[f"alerts_per_s_{size}"] = round(a["alerts_per_s"], 1)
        summary[f"floor_alerts_per_s_{size}"] = round(f["alerts_per_s"], 1)
        summary[f"ratio_to_floor_{size}"] = round(ratio, 4)
        summary[f"p50_ms_{size}"] = round(a["p50_ms"], 2)
        summary[f"p99_ms_{size}"] = round(a["p99_ms"], 2)
        summary[f"app_cpu_ms_per_alert_{size}"] = round(a["app_cpu_ms_per_alert"], 3)
        summary[f"alerts_per_cpu_s_{size}"] = round(1000 / a["app_cpu_ms_per_alert"], 1)
    paced = results["paced"]
    print(
        f"\npaced: {PACED_RATE} payloads/s of {PACED_SIZE} alerts for {PACED_SECONDS} s: "
        f"p50 {paced['p50_ms']:.1f} ms, p99 {paced['p99_ms']:.1f} ms, max {paced['max_ms']:.1f} ms"
    )
    summary["p50_ms_10x20"] = round(paced["p50_ms"], 2)
    summary["p99_ms_10x20"] = round(paced["p99_ms"], 2)
    summary["concurrency"] = args.concurrency
    summary["workers"] = results["workers"]
    aims = summary["alerts_per_s_100"] >= 1000 and summary["p99_ms_10x20"] < 100
    print(f"aims (>= 1000 alerts/s at 100 per payload; p99 < 100 ms paced): {'met' if aims else 'NOT met'}")
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
