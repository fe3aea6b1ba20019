"""Start-up time and resident memory of the whole app, against Reflex's own production start.

    .venv/bin/python bench/startup.py [--restarts 3] [--webhooks 1000] [--no-baseline]

For each start command, on a fresh SQLite database and a fresh web directory (a temporary one), and
on a copy of the app's code made at the start of the run (edits to the tree meanwhile change nothing):

- first start: from launching the server (the migrations are done before) until /readyz and / both
  answer 200: the frontend is built then;
- restart with nothing changed: the same, `--restarts` times (the median is reported);
- idle memory: the RSS and PSS summed over the server's whole process tree (every process it
  started), once it stopped moving (tests/support/memory_load.settle), after the last restart;
- after load: `--webhooks` webhooks of one alert each, 4 at a time, then settled again;
- idle with an LLM provider configured (`serve` only): LiteLLM is then loaded at start (~140 MB),
  ahead of the first analysis; without one it is not loaded at all;
- webhooks, interleaved: both starts serving at once, 300 webhooks to each in turn, 6 rounds, the
  median rate and app CPU per webhook of each (phases run minutes apart on a shared machine differ
  by more than the two servers do).

The commands: `python -m remediation_app serve` (what `make run` and the image start: the build
reused when current, one process) and, as the baseline measured in the same run, Reflex's own
`python -m reflex run --env prod` (what `serve` wrapped before issue 13: it compiles and builds the
frontend at every start, a supervisor process beside its worker). Both serve the same app.

Also the command line: `python -m remediation_app rules explain ...` (the median of 5 runs), and
the same with the cli.py of before issue 13 (its imports) in this tree, as its baseline.

Human-readable lines first; the last line is one JSON object (`restart_s`, `idle_rss_mb`,
`rss_after_load_mb`, ..., and `baseline` with the same fields for Reflex's start).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python bench/startup.py` puts bench/, not the repository, first
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import psutil  # noqa: E402

from tests.support.app_server import BIN, HOST, AppServer  # noqa: E402
from tests.support.benchmarking import code_version, machine  # noqa: E402
from tests.support.databases import sqlite_url  # noqa: E402
from tests.support.memory_load import breakdown, settle  # noqa: E402
from tests.support.payloads import am_alert, notification  # noqa: E402

TOKEN = "bench-startup-token"
SETTLE_MAX_S = 120
CONCURRENCY = 4

COMMANDS = {
    "serve": None,  # AppServer's default: python -m remediation_app serve
    "reflex run --env prod": [
        str(BIN / "python"),
        *("-m", "reflex", "run", "--env", "prod", "--loglevel", "info", "--backend-host", HOST),
    ],
}


async def post_webhooks(url: str, count: int) -> None:
    """`count` notifications of one alert each, CONCURRENCY at a time; raises on anything but 200."""
    tag = uuid.uuid4().hex[:8]
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(count):
        queue.put_nowait(i)

    async def sender(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            i = queue.get_nowait()
            body = notification(am_alert(f"StartupLoad{i % 20}", fingerprint=f"{tag}{i:06d}"))
            response = await client.post(f"{url}/webhook/alerts", json=body)
            response.raise_for_status()

    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(headers=headers, timeout=60) as client:
        await asyncio.gather(*(sender(client) for _ in range(CONCURRENCY)))


# A provider in the environment: the app then imports LiteLLM at start (never called here: the
# address is a closed port).
WITH_PROVIDER = {"LLM_MODEL": "openai/gpt-4o-mini", "LLM_API_BASE": "http://127.0.0.1:9/v1", "LLM_API_KEY": "sk-x"}


def measure_idle_with_provider(code: Path) -> dict[str, float]:
    """Idle memory when an LLM provider is configured (LiteLLM loaded ahead of the first analysis)."""
    with tempfile.TemporaryDirectory(prefix="bench-startup-llm-") as tmp:
        app = AppServer(
            database_url=sqlite_url(Path(tmp)),
            data_dir=Path(tmp) / "data",
            name="bench-startup-llm",
            env={"WEBHOOK_TOKEN": TOKEN, **WITH_PROVIDER},
            work_dir=Path(tmp) / "reflex",
            cwd=code,
        )
        try:
            app.start(timeout=600)
            settle(app, SETTLE_MAX_S)
            idle = breakdown(app)
        finally:
            app.stop()
    print(f"[serve, a provider configured] idle: RSS {idle['rss']:.0f} MB, PSS {idle['pss']:.0f} MB")
    return {"idle_rss_with_provider_mb": round(idle["rss"], 1), "idle_pss_with_provider_mb": round(idle["pss"], 1)}


# The app's code, copied once per run: "nothing changed" between restarts must hold even while
# someone edits the working tree (a changed source rightly rebuilds the frontend).
CODE = ("remediation_app", "assets", "reflex.lock", "alembic", "rxconfig.py", "alembic.ini")
NOT_CODE = shutil.ignore_patterns("__pycache__", ".*", "external")


def snapshot(into: Path) -> Path:
    for name in CODE:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, into / name, ignore=NOT_CODE)
        else:
            shutil.copy2(source, into / name)
    return into


def tree_cpu_seconds(app: AppServer) -> float:
    """User + system CPU of the server's whole process tree so far."""
    assert app.proc is not None
    root = psutil.Process(app.proc.pid)
    total = 0.0
    for proc in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            times = proc.cpu_times()
            total += times.user + times.system
    return total


def measure(label: str, argv: list[str] | None, restarts: int, webhooks: int, code: Path) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        app = AppServer(
            database_url=sqlite_url(Path(tmp)),
            data_dir=Path(tmp) / "data",
            name="bench-startup",
            env={"WEBHOOK_TOKEN": TOKEN},
            work_dir=Path(tmp) / "reflex",
            serve_argv=argv,
            cwd=code,
        )
        try:
            app.start(timeout=600)
            first = app.ready_seconds or 0.0
            print(f"[{label}] first start (frontend built): healthy after {first:.1f} s", flush=True)
            times = []
            for n in range(restarts):
                app.stop()
                app.start(timeout=600)
                times.append(app.ready_seconds or 0.0)
                print(f"[{label}] restart {n + 1}/{restarts}, nothing changed: healthy after {times[-1]:.1f} s")
            settle(app, SETTLE_MAX_S)
            idle = breakdown(app)
            processes = len(app.worker_pids()) + (1 if app.proc and app.proc.pid not in app.worker_pids() else 0)
            print(f"[{label}] idle: RSS {idle['rss']:.0f} MB, PSS {idle['pss']:.0f} MB, {processes} process(es)")
            started, cpu_before = time.perf_counter(), tree_cpu_seconds(app)
            asyncio.run(post_webhooks(app.url, webhooks))
            rate = webhooks / (time.perf_counter() - started)
            cpu_ms = (tree_cpu_seconds(app) - cpu_before) / webhooks * 1000
            settle(app, SETTLE_MAX_S)
            loaded = breakdown(app)
            print(
                f"[{label}] after {webhooks} webhooks ({rate:.0f}/s, {CONCURRENCY} at a time, "
                f"{cpu_ms:.2f} ms of the app's CPU each): "
                f"RSS {loaded['rss']:.0f} MB, PSS {loaded['pss']:.0f} MB"
            )
        except BaseException:
            print(app.log_tail(), file=sys.stderr)
            raise
        finally:
            app.stop()
    return {
        "first_build_s": round(first, 1),
        "restart_s": round(statistics.median(times), 1),
        "restart_max_s": round(max(times), 1),
        "idle_rss_mb": round(idle["rss"], 1),
        "idle_pss_mb": round(idle["pss"], 1),
        "rss_after_load_mb": round(loaded["rss"], 1),
        "pss_after_load_mb": round(loaded["pss"], 1),
        "processes": processes,
        "webhooks_per_s": round(rate, 1),
        # Less sensitive than the rate to what else runs on a shared machine.
        "cpu_ms_per_webhook": round(cpu_ms, 2),
    }


CLI_ARGS = ["rules", "explain", "alertname=DiskFull", "severity=critical"]
CLI_RUNS = 5


def cli_seconds(command: list[str], env: dict[str, str]) -> float:
    """The median wall time of `command` (a fresh interpreter each time, as from a shell), after
    one run that is not counted: it leaves the modules' bytecode cached, as any later use finds it."""
    times = []
    subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True, timeout=120)
    for _ in range(CLI_RUNS):
        started = time.perf_counter()
        subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True, timeout=120)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def interleaved_webhooks(code: Path, rounds: int, count: int) -> dict[str, float]:
    """Both starts serving at once, `count` webhooks to each in turn, `rounds` times (the order
    alternating): the two rates and CPU costs see the same machine, unlike phases minutes apart."""
    rates: dict[str, list[float]] = {name: [] for name in COMMANDS}
    cpus: dict[str, list[float]] = {name: [] for name in COMMANDS}
    with tempfile.TemporaryDirectory(prefix="bench-startup-ab-") as tmp:
        apps = {}
        try:
            for n, (name, argv) in enumerate(COMMANDS.items()):
                base = Path(tmp) / str(n)
                base.mkdir()
                apps[name] = AppServer(
                    database_url=sqlite_url(base),
                    data_dir=base / "data",
                    name=f"bench-ab-{n}",
                    env={"WEBHOOK_TOKEN": TOKEN},
                    work_dir=base / "reflex",
                    serve_argv=argv,
                    cwd=code,
                ).start(timeout=600)
            for r in range(rounds):
                for name, app in list(apps.items())[:: 1 if r % 2 == 0 else -1]:
                    started, cpu_before = time.perf_counter(), tree_cpu_seconds(app)
                    asyncio.run(post_webhooks(app.url, count))
                    rates[name].append(count / (time.perf_counter() - started))
                    cpus[name].append((tree_cpu_seconds(app) - cpu_before) / count * 1000)
        finally:
            for app in apps.values():
                app.stop()
    serve, reflex = (statistics.median(rates[name]) for name in COMMANDS)
    serve_cpu, reflex_cpu = (statistics.median(cpus[name]) for name in COMMANDS)
    print(
        f"interleaved, {rounds} x {count} webhooks each: serve {serve:.0f}/s ({serve_cpu:.2f} ms CPU each), "
        f"reflex run {reflex:.0f}/s ({reflex_cpu:.2f} ms CPU each)"
    )
    return {
        "ab_webhooks_per_s": round(serve, 1),
        "ab_cpu_ms_per_webhook": round(serve_cpu, 2),
        "ab_baseline_webhooks_per_s": round(reflex, 1),
        "ab_baseline_cpu_ms_per_webhook": round(reflex_cpu, 2),
        "ab_webhooks_ratio": round(serve / reflex, 2),
        "ab_cpu_ratio": round(serve_cpu / reflex_cpu, 2),
    }


# The command line before issue 13 (every command's imports loaded at start), run in today's tree
# as the baseline of `rules explain`.
CLI_BEFORE = "fa6c420"


def measure_cli() -> dict[str, float]:
    """`rules explain` now, and with the cli.py of CLI_BEFORE in the same tree (if it still runs)."""
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as tmp:
        env = {**os.environ, "DATABASE_URL": sqlite_url(Path(tmp)), "DATA_DIR": str(Path(tmp) / "data")}
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # a user's shell caches bytecode
        python = str(BIN / "python")
        subprocess.run(
            [python, "-m", "remediation_app", "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True
        )
        figures = {"cli_rules_explain_s": round(cli_seconds([python, "-m", "remediation_app", *CLI_ARGS], env), 2)}
        print(f"`rules explain`: {figures['cli_rules_explain_s']:.2f} s (median of {CLI_RUNS})")
        old = subprocess.run(
            ["git", "show", f"{CLI_BEFORE}:remediation_app/cli.py"], cwd=ROOT, capture_output=True, text=True
        )
        if old.returncode == 0:
            (Path(tmp) / "cli_before.py").write_text(old.stdout)
            run_old = (
                f"import sys; sys.path.insert(1, {tmp!r}); import cli_before; sys.exit(cli_before.main({CLI_ARGS!r}))"
            )
            try:
                before = cli_seconds([python, "-c", run_old], env)
            except subprocess.CalledProcessError:
                print(f"the cli.py of {CLI_BEFORE} no longer runs in this tree: no baseline for `rules explain`")
            else:
                figures["cli_rules_explain_before_s"] = round(before, 2)
                print(f"`rules explain` with the cli.py of {CLI_BEFORE} (before issue 13): {before:.2f} s")
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--restarts", type=int, default=3, help="restarts measured (default 3)")
    parser.add_argument("--webhooks", type=int, default=1000, help="webhooks before the second figure (default 1000)")
    parser.add_argument("--no-baseline", action="store_true", help="skip Reflex's own start")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print(f"date: {datetime.now(UTC).isoformat(timespec='seconds')}; code: {code_version()}")
    result: dict[str, Any] = measure_cli()
    with tempfile.TemporaryDirectory(prefix="bench-startup-code-") as tmp:
        code = snapshot(Path(tmp))
        result.update(measure("serve", COMMANDS["serve"], args.restarts, args.webhooks, code))
        result.update(measure_idle_with_provider(code))
        if not args.no_baseline:
            baseline = measure(
                "reflex run --env prod", COMMANDS["reflex run --env prod"], args.restarts, args.webhooks, code
            )
            result["baseline"] = baseline
            result.update(interleaved_webhooks(code, rounds=6, count=300))
    if "baseline" in result:
        baseline = result["baseline"]
        result["ratios"] = {
            name: round(result[name] / baseline[name], 2)
            for name in (
                "first_build_s",
                "restart_s",
                "idle_rss_mb",
                "idle_pss_mb",
                "rss_after_load_mb",
                "webhooks_per_s",
                "cpu_ms_per_webhook",
            )
            if baseline[name]
        }
        print(
            "serve / reflex run: "
            + ", ".join(f"{name} {ratio}" for name, ratio in result["ratios"].items())
            + " (times, memory, CPU: below 1 is better; webhooks_per_s: above 1 is better)"
        )
    met = result["restart_s"] < 10 and result["idle_rss_mb"] < 300
    print(f"aims (restart < 10 s, idle < 300 MB): {'met' if met else 'NOT met'}")
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
