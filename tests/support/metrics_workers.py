"""A stand-in for a server with several workers, for the metrics multiprocess tests.

`python -m tests.support.metrics_workers DATA_DIR` plays the server (the workers' parent): it starts
worker "a", which records and exits (as a crashed or recycled worker would), then worker "b", which
records and stays alive, then a third worker that scrapes, as a Prometheus scrape reaching any
worker would. Every worker calls `setup_multiprocess(DATA_DIR)` as the app's lifespan does. It
prints one JSON object: the scrape's text, each worker's metric directory and pid, and its own pid.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
from pathlib import Path
from typing import Any


def record(data_dir: str, name: str, out: Any, stop: Any) -> None:
    from remediation_app.services import metrics

    path = metrics.setup_multiprocess(Path(data_dir))
    for _ in range(3):
        metrics.record_webhook_request(200)
    metrics.record_webhook_request(401)
    metrics.record_ingest({"manual": 2, "ignore": 1}, 0.02)
    metrics.record_job_outcome("failed")
    metrics.record_job_outcome("succeeded")
    metrics.record_llm_call("model-x", 1.5, 100, 20, 0.25)
    metrics.terminal_session_opened()
    metrics.set_budget_reached(name == "b")  # b sets it last: the most recent value wins
    out.put({"name": name, "dir": str(path), "pid": os.getpid()})
    if stop is not None:
        stop.wait(60)


def scrape(data_dir: str, out: Any) -> None:
    from remediation_app.services import metrics

    path = metrics.setup_multiprocess(Path(data_dir))
    out.put({"name": "scrape", "dir": str(path), "pid": os.getpid(), "text": metrics.render().decode()})


def main(data_dir: str) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")  # what granian does: fresh interpreters
    out = ctx.Queue()
    stop = ctx.Event()
    results: dict[str, Any] = {"server_pid": os.getpid()}
    first = ctx.Process(target=record, args=(data_dir, "a", out, None))
    first.start()
    results["a"] = out.get(timeout=60)
    first.join(30)
    second = ctx.Process(target=record, args=(data_dir, "b", out, stop))
    second.start()
    results["b"] = out.get(timeout=60)
    scraper = ctx.Process(target=scrape, args=(data_dir, out))
    scraper.start()
    results["scrape"] = out.get(timeout=60)
    scraper.join(30)
    stop.set()
    second.join(30)
    return results


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1])))
