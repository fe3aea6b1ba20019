"""Memory of the whole app, idle, right after a hostile webhook load, and after settling at idle.

    .venv/bin/python bench/memory.py [--rounds 3] [--concurrency 3] [--settle 90] [--postgres] [--env N=V]

Starts the app (`python -m remediation_app serve`, tests/support/app_server.AppServer) on a loopback
port with a fresh SQLite database (`--postgres`: a fresh PostgreSQL database), warms it up with a few
small webhooks and page loads, waits until its memory settles, and takes that as the baseline
(`idle_rss_mb`). Then the hostile load that issue 11 reported, `--rounds` times, `--concurrency`
requests at once:

- a valid notification just under WEBHOOK_MAX_BODY_BYTES (10 MB): about 1,900 alerts of ~5.4 KB;
- one alert with 100,000 labels (about 3 MB of JSON);
- one alert with a 9 MB label value;
- refused bodies: 10 MB of invalid JSON (400), 10 MB + 1 byte (413).

Memory is the resident set size (RSS) summed over the process tree (the server and its granian
workers), read with psutil; PSS is shown too (RSS counts the pages a forked worker shares with the
server twice). Figures: idle after start, the peak during the load (sampled every 0.2 s), right
after the load, and after settling at idle (RSS no longer falling: within 1 MB over 15 s, or
`--settle` seconds at most). Ratios are to the idle figure of the same run. Everything is stopped at
the end. The load and the measuring are in tests/support/memory_load.py (shared with
tests/integration/test_memory_release.py); `--env NAME=VALUE` adds to the app's environment (e.g.
MALLOC_ARENA_MAX=8 to compare glibc settings).

Human-readable lines first; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python bench/memory.py` puts bench/, not the repository, first
    sys.path.insert(0, str(ROOT))

from tests.support.app_server import AppServer  # noqa: E402
from tests.support.benchmarking import code_version, machine  # noqa: E402
from tests.support.databases import postgres_available, sqlite_url, temporary_postgres  # noqa: E402
from tests.support.memory_load import (  # noqa: E402
    MB,
    breakdown,
    hostile_bodies,
    peak_sampler,
    post_all,
    settle,
    show,
    warm_up,
)

TOKEN = "bench-memory-token"


def measure(app: AppServer, args: argparse.Namespace) -> dict[str, Any]:
    warm_up(app, TOKEN)
    took = settle(app, args.settle)
    idle = breakdown(app)
    show(f"idle after start ({took:.0f} s)", idle)
    timings: list[float] = []
    with peak_sampler(app) as peak:
        for round_no in range(args.rounds):
            bodies = hostile_bodies(round_no)
            sent = sum(len(body) for _, body, _ in bodies)
            round_timings = asyncio.run(post_all(app.url, TOKEN, bodies, args.concurrency))
            timings += round_timings
            print(f"round {round_no + 1}: {len(bodies)} bodies, {sent / MB:.0f} MB, slowest {max(round_timings):.1f} s")
            del bodies
        after_load = breakdown(app)
        peak_rss = max(peak(), after_load["rss"])
    show("right after the load", after_load)
    print(f"peak during the load          RSS {peak_rss:7.1f} MB")
    took = settle(app, args.settle)
    after_idle = breakdown(app)
    show(f"after settling ({took:.0f} s)", after_idle)
    return {"idle": idle, "after_load": after_load, "after_idle": after_idle, "peak": peak_rss, "timings": timings}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the hostile load (default 3)")
    parser.add_argument("--concurrency", type=int, default=3, help="requests at once (default 3)")
    parser.add_argument("--settle", type=float, default=90.0, help="seconds at most to wait for idle (default 90)")
    parser.add_argument("--postgres", action="store_true", help="a fresh PostgreSQL database instead of SQLite")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", help="extra app environment")
    args = parser.parse_args()
    if args.postgres and not postgres_available():
        print("PostgreSQL is not reachable on 127.0.0.1:5432", file=sys.stderr)
        return 2
    print(f"machine: {machine()}")
    print(f"date: {datetime.now(UTC).isoformat(timespec='seconds')}; code: {code_version()}")
    env = {"WEBHOOK_TOKEN": TOKEN, **dict(item.split("=", 1) for item in args.env)}
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp, contextlib.ExitStack() as stack:
        database = (
            stack.enter_context(temporary_postgres("re_bench_memory")) if args.postgres else sqlite_url(Path(tmp))
        )
        app = AppServer(
            database_url=database, data_dir=Path(tmp), name="bench-memory", env=env, work_dir=Path(tmp) / "reflex"
        )
        print(
            f"starting the app (python -m remediation_app serve) on {'PostgreSQL' if args.postgres else 'SQLite'} ..."
        )
        try:
            app.start()
            results = measure(app, args)
        except BaseException:
            print(app.log_tail(), file=sys.stderr)
            raise
        finally:
            app.stop()

    idle, load, after = results["idle"]["rss"], results["after_load"]["rss"], results["after_idle"]["rss"]
    summary = {
        "idle_rss_mb": round(idle, 1),
        "rss_peak_mb": round(results["peak"], 1),
        "rss_after_load_mb": round(load, 1),
        "rss_after_idle_mb": round(after, 1),
        "retained_mb": round(after - idle, 1),
        "after_load_ratio": round(load / idle, 3),
        "after_idle_ratio": round(after / idle, 3),
        "idle_pss_mb": round(results["idle"]["pss"], 1),
        "pss_after_idle_mb": round(results["after_idle"]["pss"], 1),
        "slowest_request_s": round(max(results["timings"]), 2),
        "rounds": args.rounds,
        "concurrency": args.concurrency,
        "database": "postgresql" if args.postgres else "sqlite",
    }
    print(f"retained after settling: {summary['retained_mb']:+.1f} MB ({summary['after_idle_ratio']:.3f} x idle)")
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
