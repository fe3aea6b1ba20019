"""The time the engine takes to gather an alert's deterministic evidence, against the raw HTTP queries.

    .venv/bin/python bench/investigation.py [--alerts 50] [--rounds 1] [--warmup 6] [--noise 150]

Starts Debian's Prometheus on loopback with three hours of backfilled history (tests/support/
prom_history.py: a disk filling up, a latency spike), migrates a fresh SQLite database and stores
`--alerts` firing alerts about that history (disk-filling and latency ones, a Prometheus generatorURL
whose `g0.expr` is a threshold expression on the backfilled series, startsAt inside the history),
with `--noise` firing alerts elsewhere (sharing the job "node": related alerts are read and matched)
and 100 resolved earlier occurrences beside them. Then, for each
alert, `--rounds` times, in turn (engine first on even alerts, floor first on odd ones):

- engine: `evidence.gather(alert, DatasourceConfig(...))`, the whole deterministic step: the
  expression read from the generatorURL and parsed, a new PrometheusClient, the range queries
  (the compared side and the expression, at once), their answers decoded and summarized, the
  related alerts and the alert's history read from the store at the same time;
- floor: the same range queries (same query text, start, end and step as the engine sends, POST
  form to /api/v1/query_range, at once) over one kept-alive httpx client, until the last byte of
  each body: what any client pays Prometheus for the same data. The parameters are computed before
  the clock starts.

`--warmup` alerts go through both first, unmeasured. Every engine run is checked: no evidence item
may carry an error, and each metric item must hold series.

Figures: p50 and p95 of the engine, p50 of the floor, the overhead (engine - floor, p50 of the
per-alert differences, both runs made back to back), the ratio of the p50s, and the CPU time of
this process per run (`time.process_time`, worker threads included; Prometheus' own CPU is in
neither): on a shared machine the wall times move with the load, the CPU times much less.
Human-readable lines first; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote_plus

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python bench/investigation.py` puts bench/, not the repository, first
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from tests.support.benchmarking import code_version, machine, percentile  # noqa: E402
from tests.support.databases import sqlite_url  # noqa: E402
from tests.support.prom_history import History, history_prometheus  # noqa: E402

if TYPE_CHECKING:
    from remediation_app.models import Alert
    from remediation_app.services.investigation.prometheus import DatasourceConfig, PrometheusClient

NOISE_FIRING = 150  # default of --noise
PAST_OCCURRENCES = 100


@dataclass(frozen=True)
class Shape:
    """One kind of alert on the backfilled history."""

    alertname: str
    labels: dict[str, str]
    expr: str
    starts_at: float  # unix seconds, inside the history


def shapes(history: History) -> list[Shape]:
    """Alert expressions as a rule file would hold them, with the moment each would have fired."""
    disk = {"job": "node", "instance": "db1:9100", "mountpoint": "/var"}
    api = {"job": "api", "instance": "api1:8080", "handler": "/checkout"}
    span = history.end - history.start
    sel = 'job="node",mountpoint="/var"'
    found: list[Shape] = []
    for pct in (35, 30, 25, 20, 15, 10):
        # /var falls linearly from 40% to 4% free over the history.
        crossed = history.start + (0.40 - pct / 100) / 0.36 * span
        ratio = f"node_filesystem_avail_bytes{{{sel}}} / node_filesystem_size_bytes{{{sel}}}"
        found.append(Shape("VarDiskAlmostFull", disk, f"{ratio} * 100 < {pct}", crossed))
        found.append(
            Shape(
                "DiskSpaceLow",
                {"job": "node", "instance": "db1:9100"},
                f'node_filesystem_avail_bytes{{job="node"}} / node_filesystem_size_bytes{{job="node"}} < {pct / 100}',
                crossed,
            )
        )
    predict = f"predict_linear(node_filesystem_avail_bytes{{{sel}}}[1h], 4 * 3600) < 0"
    found.append(Shape("DiskWillFillIn4h", disk, predict, history.start + 3600 + 120))
    spike = history.latency.spike_start
    for window, minutes in (("1m", 1), ("5m", 5)):
        for threshold in (0.5, 1, 2):
            p99 = (
                "histogram_quantile(0.99, sum by (le) "
                f'(rate(http_request_duration_seconds_bucket{{job="api"}}[{window}])))'
            )
            found.append(Shape("ApiP99LatencyHigh", api, f"{p99} > {threshold}", spike + minutes * 60))
    mean = (
        'sum by (instance) (rate(http_request_duration_seconds_sum{job="api"}[5m])) '
        '/ sum by (instance) (rate(http_request_duration_seconds_count{job="api"}[5m])) > 0.5'
    )
    found.append(Shape("ApiMeanLatencyHigh", api, mean, spike + 300))
    return found


async def store_alerts(prom_url: str, history: History, count: int, noise: int = NOISE_FIRING) -> list[int]:
    """`count` firing alerts cycling through the shapes, plus the noise around them; their ids."""
    from remediation_app.db import async_session
    from remediation_app.models import Alert

    now = datetime.now(UTC)

    def alert(
        name: str,
        labels: dict[str, str],
        status: str,
        starts: datetime,
        *,
        generator_url: str = "",
        ends_at: datetime | None = None,
    ) -> Alert:
        return Alert(
            fingerprint=os.urandom(8).hex(),
            starts_at=starts,
            status=status,
            alertname=name,
            severity="warning",
            instance=labels.get("instance", ""),
            job=labels.get("job", ""),
            summary=f"{name} on {labels.get('instance', '?')}",
            labels={"alertname": name, "severity": "warning", **labels},
            annotations={"summary": f"{name} on {labels.get('instance', '?')}"},
            first_received_at=now,
            last_received_at=now,
            action="auto_analyze",
            generator_url=generator_url,
            ends_at=ends_at,
        )

    kinds = shapes(history)
    measured = []
    for i in range(count):
        shape = kinds[i % len(kinds)]
        # A few seconds apart, so the alerts of one shape are distinct occurrences (unique starts_at).
        starts = datetime.fromtimestamp(shape.starts_at + i, UTC)
        url = f"{prom_url}/graph?g0.expr={quote_plus(shape.expr)}&g0.tab=1"
        measured.append(alert(shape.alertname, shape.labels, "firing", starts, generator_url=url))
    elsewhere = [
        alert("NodeExporterDown", {"job": "node", "instance": f"host-{i}:9100"}, "firing", now - timedelta(hours=1))
        for i in range(noise)
    ]
    past = []
    for i in range(PAST_OCCURRENCES):
        shape = kinds[i % len(kinds)]
        starts = now - timedelta(days=1 + i // len(kinds), minutes=i)
        past.append(alert(shape.alertname, shape.labels, "resolved", starts, ends_at=starts + timedelta(minutes=20)))
    async with async_session() as session:
        session.add_all([*elsewhere, *past, *measured])
        await session.commit()
        return [a.id for a in measured if a.id is not None]


async def load_alerts(ids: list[int]) -> list[Alert]:
    from remediation_app.db import async_session
    from remediation_app.models import Alert

    async with async_session() as session:
        found = [await session.get(Alert, alert_id) for alert_id in ids]
    return [alert for alert in found if alert is not None]


def floor_params(alert: Alert, grid: PrometheusClient) -> list[dict[str, str]]:
    """The forms the engine posts for `alert` as of now (evidence._metrics: the window, its grid;
    PrometheusClient.range: the step kept within the points limit, numbers to the millisecond).
    `grid` is a client only read for its limits."""
    from remediation_app.services.investigation.evidence import range_grid, window_of
    from remediation_app.services.investigation.promql import analyse_expression, expression_from_generator_url

    expr_text = expression_from_generator_url(alert.generator_url)
    if expr_text is None:
        raise RuntimeError(f"alert {alert.id} has no g0.expr")
    expression = analyse_expression(expr_text)
    queries = [expression.text]
    if expression.is_threshold and expression.value_expr != expression.text:
        queries.insert(0, expression.value_expr)
    start, end = window_of(alert)
    first_at, step = range_grid(grid, start, end)
    first, last = first_at.timestamp(), end.timestamp()
    step = max(step, 1.0, math.ceil((last - first) / max(1, grid.limits.points - 1)))

    def number(value: float) -> str:
        return f"{value:.3f}".rstrip("0").rstrip(".")

    return [{"query": q, "start": number(first), "end": number(last), "step": number(step)} for q in queries]


@dataclass
class Timings:
    wall_ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)

    @contextlib.contextmanager
    def clock(self) -> Iterator[None]:
        cpu, wall = time.process_time(), time.perf_counter()
        yield
        self.wall_ms.append((time.perf_counter() - wall) * 1000)
        self.cpu_ms.append((time.process_time() - cpu) * 1000)


async def floor_once(http: httpx.AsyncClient, params: list[dict[str, str]], timings: Timings | None = None) -> None:
    async def one(form: dict[str, str]) -> None:
        response = await http.post("api/v1/query_range", data=form)
        await response.aread()
        if response.status_code != 200:
            raise RuntimeError(f"floor query failed ({response.status_code}): {response.text[:300]}")

    with timings.clock() if timings else contextlib.nullcontext():
        await asyncio.gather(*(one(form) for form in params))


async def engine_once(alert: Alert, source: DatasourceConfig, timings: Timings | None = None) -> None:
    from remediation_app.services.investigation.evidence import gather

    with timings.clock() if timings else contextlib.nullcontext():
        investigation = await gather(alert, source)
    for item in investigation.items:
        if item.error:
            raise RuntimeError(f"evidence {item.ref} ({item.title}) failed: {item.error}")
        if item.kind.startswith("metric") and not item.data.get("series"):
            raise RuntimeError(f"evidence {item.ref} ({item.title}) has no series: {item.summary[:300]}")


async def measure(
    prom_url: str, history: History, *, count: int, rounds: int, warmup: int, noise: int
) -> dict[str, float | int]:
    from remediation_app.db import dispose_engines
    from remediation_app.services.investigation.prometheus import DatasourceConfig, PrometheusClient

    source = DatasourceConfig(name="bench", url=prom_url, timeout_s=5.0)
    grid = PrometheusClient(source)
    alerts = await load_alerts(await store_alerts(prom_url, history, count, noise))
    engine, floor = Timings(), Timings()
    queries = 0
    headers = {"Accept": "application/json", "User-Agent": "remediation-engine"}
    try:
        async with httpx.AsyncClient(base_url=prom_url, headers=headers, timeout=5.0) as http:
            for alert in alerts[:warmup]:
                await engine_once(alert, source)
                await floor_once(http, floor_params(alert, grid))
            for _ in range(rounds):
                for i, alert in enumerate(alerts):
                    params = floor_params(alert, grid)
                    queries += len(params)
                    if i % 2 == 0:
                        await engine_once(alert, source, engine)
                        await floor_once(http, params, floor)
                    else:
                        await floor_once(http, params, floor)
                        await engine_once(alert, source, engine)
    finally:
        await grid.aclose()
        await dispose_engines()
    overhead = [e - f for e, f in zip(engine.wall_ms, floor.wall_ms, strict=True)]
    evidence_p50, floor_p50 = statistics.median(engine.wall_ms), statistics.median(floor.wall_ms)
    return {
        "n": len(engine.wall_ms),
        "queries_per_alert": round(queries / len(engine.wall_ms), 2),
        "evidence_p50_ms": round(evidence_p50, 1),
        "evidence_p95_ms": round(percentile(engine.wall_ms, 95), 1),
        "floor_p50_ms": round(floor_p50, 1),
        "floor_p95_ms": round(percentile(floor.wall_ms, 95), 1),
        "overhead_p50_ms": round(statistics.median(overhead), 1),
        "overhead_p95_ms": round(percentile(overhead, 95), 1),
        "ratio_p50": round(evidence_p50 / floor_p50, 2),
        "evidence_cpu_p50_ms": round(statistics.median(engine.cpu_ms), 1),
        "floor_cpu_p50_ms": round(statistics.median(floor.cpu_ms), 1),
        "noise_alerts": noise,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=50, help="alerts measured (default 50)")
    parser.add_argument("--rounds", type=int, default=1, help="passes over the alerts (default 1)")
    parser.add_argument("--warmup", type=int, default=6, help="alerts run unmeasured first (default 6)")
    parser.add_argument(
        "--noise", type=int, default=NOISE_FIRING, help=f"firing alerts elsewhere (default {NOISE_FIRING})"
    )
    args = parser.parse_args()
    prometheus_bin, promtool_bin = shutil.which("prometheus"), shutil.which("promtool")
    if prometheus_bin is None or promtool_bin is None:
        print("prometheus and promtool are needed (make test-deps)", file=sys.stderr)
        return 2
    print(f"machine: {machine()}")
    print(f"date: {datetime.now(UTC).isoformat(timespec='seconds')}; code: {code_version()}")

    with tempfile.TemporaryDirectory(prefix="bench-investigation-") as tmp:
        url = sqlite_url(Path(tmp))
        os.environ.update(DATABASE_URL=url, DATA_DIR=str(Path(tmp) / "data"), LOG_LEVEL="WARNING")
        from remediation_app.services import migrations
        from remediation_app.settings import get_settings

        get_settings.cache_clear()
        migrations.upgrade(url)
        with history_prometheus(prometheus_bin, promtool_bin, Path(tmp) / "prometheus") as prom:
            print(f"prometheus at {prom.url}, history {prom.history.end - prom.history.start:.0f} s backfilled")
            result = asyncio.run(
                measure(
                    prom.url,
                    prom.history,
                    count=args.alerts,
                    rounds=args.rounds,
                    warmup=args.warmup,
                    noise=args.noise,
                )
            )

    print(
        f"{result['n']} gathers ({result['queries_per_alert']} range queries each): engine p50 "
        f"{result['evidence_p50_ms']} ms, p95 {result['evidence_p95_ms']} ms; floor (the same HTTP queries) p50 "
        f"{result['floor_p50_ms']} ms, p95 {result['floor_p95_ms']} ms"
    )
    print(
        f"overhead p50 {result['overhead_p50_ms']} ms (aim < 150), ratio of p50s {result['ratio_p50']} (aim <= 2); "
        f"CPU of this process per run, p50: engine {result['evidence_cpu_p50_ms']} ms, "
        f"floor {result['floor_cpu_p50_ms']} ms"
    )
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
