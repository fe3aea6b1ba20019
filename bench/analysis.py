"""The analysis queue's throughput and the engine's own overhead per analysis.

    .venv/bin/python bench/analysis.py [--count 40] [--concurrency 4] [--delay 0.3] [--postgres]

Starts a fake OpenAI-compatible provider in its own process (tests/support/fake_llm.py, every
answer after a fixed `--delay`), migrates a fresh database (SQLite by default, or a temporary
PostgreSQL database on 127.0.0.1:5432), then:

1. baseline: `--count` raw LiteLLM calls to the fake provider, `--concurrency` at a time, with
   the same prompt the engine sends: what any client of that provider pays;
2. engine: one webhook notification with `--count` critical alerts goes through the real ingest
   path (rules -> jobs table), and an AnalysisWorker with `--concurrency` slots runs the queue
   until every job has succeeded (claim, provider call, parse, store, events).

wall_s is from the worker's start to the last job finished; ideal_s = count x delay / concurrency.
overhead_ms_per_analysis is what each analysis costs a worker slot beyond the provider's delay:
wall_s x concurrency / count - delay. The baseline's figure is the same formula for raw calls.

Human-readable lines first; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python bench/analysis.py` puts bench/, not the repository, first
    sys.path.insert(0, str(ROOT))

from tests.support.benchmarking import code_version, machine  # noqa: E402
from tests.support.databases import sqlite_url, temporary_postgres  # noqa: E402
from tests.support.fake_llm import closed_port  # noqa: E402
from tests.support.payloads import am_alert, notification  # noqa: E402

MODEL = "openai/gpt-4o-mini"


@contextlib.contextmanager
def fake_provider(delay: float) -> Iterator[str]:
    """The fake provider in its own process (so it does not share the engine's GIL); its API base."""
    port = closed_port()
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "tests/support/fake_llm.py"), "--port", str(port), "--delay", str(delay)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if "listening" not in line:
            raise RuntimeError(f"the fake provider did not start: {line!r}")
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.terminate()
        proc.wait(10)


@contextlib.contextmanager
def database(use_postgres: bool) -> Iterator[str]:
    if use_postgres:
        with temporary_postgres("re_bench_analysis") as url:
            yield url
    else:
        with tempfile.TemporaryDirectory(prefix="bench-analysis-") as tmp:
            yield sqlite_url(Path(tmp))


async def baseline(api_base: str, count: int, concurrency: int) -> float:
    """Raw LiteLLM calls with the engine's prompt, `concurrency` at a time; wall seconds."""
    from remediation_app.models import Alert
    from remediation_app.services.llm.analysis import build_messages
    from remediation_app.services.llm.client import complete
    from remediation_app.services.llm.config import ProviderConfig

    now = datetime.now(UTC)
    alert = Alert(
        fingerprint="bench",
        starts_at=now,
        status="firing",
        alertname="Bench",
        labels={"alertname": "Bench", "severity": "critical"},
        annotations={"summary": "bench"},
        first_received_at=now,
        last_received_at=now,
        action="auto_analyze",
    )
    provider = ProviderConfig(id=0, name="bench", model=MODEL, api_base=api_base, api_key="sk-bench")
    slots = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with slots:
            await complete(provider, build_messages(alert), json_mode=True)

    await one()  # warm up: connection pool, LiteLLM's first-call setup
    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(count)))
    return time.perf_counter() - started


async def engine(count: int, concurrency: int) -> float:
    """Ingest `count` critical alerts, run a worker until all are analysed; wall seconds."""
    import sqlalchemy as sa

    from remediation_app.db import async_session, dispose_engines
    from remediation_app.services.alertmanager.payload import NotificationIn
    from remediation_app.services.alerts.ingest import receive_notification
    from remediation_app.services.llm.worker import AnalysisWorker

    alerts = [am_alert(f"Bench{i}", severity="critical", instance=f"host-{i}:9100") for i in range(count)]
    result = await receive_notification(NotificationIn.model_validate(notification(*alerts)))
    if len(result.to_analyze) != count:
        raise RuntimeError(f"expected {count} queued analyses, got {len(result.to_analyze)}")
    worker = AnalysisWorker(concurrency=concurrency, name="bench")
    started = time.perf_counter()
    task = asyncio.create_task(worker.run())
    try:
        while True:
            async with async_session() as session:
                done = (
                    await session.exec(  # type: ignore[call-overload]
                        sa.text("SELECT count(*) FROM analysis_jobs WHERE status IN ('succeeded', 'failed')")
                    )
                ).scalar_one()
            if done >= count:
                break
            await asyncio.sleep(0.01)
        wall = time.perf_counter() - started
        async with async_session() as session:
            failed = (
                await session.exec(sa.text("SELECT count(*) FROM analysis_jobs WHERE status = 'failed'"))  # type: ignore[call-overload]
            ).scalar_one()
        if failed:
            raise RuntimeError(f"{failed} analyses failed")
        return wall
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await dispose_engines()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=40, help="alerts to analyse (default 40)")
    parser.add_argument("--concurrency", type=int, default=4, help="worker slots (default 4)")
    parser.add_argument("--delay", type=float, default=0.3, help="the provider's answer time, s (default 0.3)")
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL on 127.0.0.1:5432 instead of SQLite")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print(f"date: {datetime.now(UTC).isoformat(timespec='seconds')}; code: {code_version()}")

    with tempfile.TemporaryDirectory(prefix="bench-analysis-data-") as data_dir, database(args.postgres) as url:
        os.environ.update(
            DATABASE_URL=url,
            DATA_DIR=data_dir,
            LLM_MODEL=MODEL,
            LLM_API_KEY="sk-bench",
            ANALYSIS_POLL_SECONDS="0.05",
            # One notification of many alerts measures the queue: one analysis each, not a storm's one.
            STORM_THRESHOLD="0",
            LOG_LEVEL="WARNING",
        )
        from remediation_app.services import migrations
        from remediation_app.settings import get_settings

        with fake_provider(args.delay) as api_base:
            os.environ["LLM_API_BASE"] = api_base
            get_settings.cache_clear()
            migrations.upgrade(url)
            print(f"fake provider at {api_base}, {args.delay * 1000:.0f} ms per answer; database: {url.split(':')[0]}")
            base_wall = asyncio.run(baseline(api_base, args.count, args.concurrency))
            wall = asyncio.run(engine(args.count, args.concurrency))

    ideal = args.count * args.delay / args.concurrency
    per_slot = args.concurrency / args.count
    overhead_ms = (wall * per_slot - args.delay) * 1000
    base_overhead_ms = (base_wall * per_slot - args.delay) * 1000
    print(f"baseline (raw LiteLLM calls): {base_wall:.2f} s, {base_overhead_ms:.1f} ms per call over the delay")
    print(
        f"engine: {args.count} analyses in {wall:.2f} s (ideal {ideal:.2f} s, {wall / ideal:.2f}x), "
        f"{overhead_ms:.1f} ms per analysis over the delay ({overhead_ms - base_overhead_ms:.1f} ms more than "
        "the raw calls)"
    )
    print(
        json.dumps(
            {
                "analyses": args.count,
                "concurrency": args.concurrency,
                "wall_s": round(wall, 3),
                "ideal_s": round(ideal, 3),
                "overhead_ms_per_analysis": round(overhead_ms, 1),
                "baseline_wall_s": round(base_wall, 3),
                "baseline_overhead_ms_per_call": round(base_overhead_ms, 1),
                "wall_vs_baseline": round(wall / base_wall, 3),
            }
        ),
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
