"""Live push: from the webhook's 200 to the new alert's row in an open dashboard.

    .venv/bin/python bench/push.py [--count 20]

Starts the app (`python -m remediation_app serve`, tests/support/app_server.AppServer, SQLite) on a
loopback port, opens the dashboard in Debian's chromium through Playwright and waits for
`#live-flag` to say "live". A MutationObserver in the page records when each alert name first
appears in a `tr.alert-row` (epoch milliseconds: performance.timeOrigin + performance.now(),
the same system clock as Python's time.time()). Then, `--count` times: POST one new alert
(unique name), take time.time() as soon as the 200 has arrived, wait for the observer to
report the row, and subtract. The Python-side time until Playwright sees the row is shown too
(it adds Playwright's polling and a round trip to the browser). Two warm-up alerts are not
counted; alerts are spaced out so that no two are coalesced into one refresh.

Human-readable lines first; the last line is one JSON object. Needs /usr/bin/chromium.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python bench/push.py` puts bench/, not the repository, first
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from tests.support.app_server import AppServer  # noqa: E402
from tests.support.benchmarking import code_version, machine, percentile  # noqa: E402
from tests.support.databases import sqlite_url  # noqa: E402
from tests.support.payloads import am_alert, notification  # noqa: E402

TOKEN = "bench-push-token"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
WARMUP = 2
ROW_TIMEOUT_MS = 10_000
GAP_S = 0.4  # > the dashboard's 0.2 s coalescing window: every alert is its own refresh

# First time each alert name is in a row, in epoch ms; checked on every DOM change.
OBSERVER_JS = """
() => {
  window.__seen = {};
  const scan = () => {
    const now = performance.timeOrigin + performance.now();
    for (const row of document.querySelectorAll('tr.alert-row')) {
      const name = row.querySelector('.alertname');
      const text = name ? name.textContent.trim() : '';
      if (text && !(text in window.__seen)) window.__seen[text] = now;
    }
  };
  new MutationObserver(scan).observe(document.body, {childList: true, subtree: true, characterData: true});
  scan();
}
"""


def measure(app: AppServer, count: int) -> tuple[list[float], list[float]]:
    """(observer latencies, Playwright latencies) in ms for `count` alerts after the warm-up."""
    run = uuid.uuid4().hex[:6]
    dom_ms: list[float] = []
    python_ms: list[float] = []
    with (
        sync_playwright() as playwright,
        httpx.Client(base_url=app.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10) as http,
    ):
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(bypass_csp=True)  # wait_for_function evaluates strings (CSP: no eval)
            app.login(context)
            page = context.new_page()
            page.goto(app.url + "/")
            page.wait_for_function(
                "document.querySelector('#live-flag')?.textContent.trim() === 'live'", timeout=60_000
            )
            page.evaluate(OBSERVER_JS)
            for i in range(WARMUP + count):
                name = f"PushBench-{run}-{i:03d}"
                body = notification(
                    am_alert(name, severity="warning", fingerprint=f"{run}{i:010x}", instance=f"push-{i}:9100")
                )
                response = http.post("/webhook/alerts", json=body)
                acked_ms = time.time() * 1000
                acked = time.perf_counter()
                if response.status_code != 200 or response.json().get("created") != 1:
                    raise RuntimeError(f"webhook answered {response.status_code}: {response.text[:300]}")
                page.wait_for_selector(f"tr.alert-row:has-text('{name}')", timeout=ROW_TIMEOUT_MS)
                seen_by_playwright = (time.perf_counter() - acked) * 1000
                page.wait_for_function(f"window.__seen[{json.dumps(name)}] !== undefined", timeout=ROW_TIMEOUT_MS)
                seen_in_page = float(page.evaluate(f"window.__seen[{json.dumps(name)}]")) - acked_ms
                label = "warm-up" if i < WARMUP else f"{i - WARMUP + 1:>2}/{count}"
                print(
                    f"{label:>7}: row in the DOM {seen_in_page:7.1f} ms after the 200 "
                    f"(Playwright: {seen_by_playwright:.1f})"
                )
                if i >= WARMUP:
                    dom_ms.append(seen_in_page)
                    python_ms.append(seen_by_playwright)
                time.sleep(GAP_S)
        finally:
            browser.close()
    return dom_ms, python_ms


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20, help="alerts measured (default 20)")
    args = parser.parse_args()
    if not os.path.exists(CHROMIUM):
        print(f"{CHROMIUM} is not installed (make test-deps)", file=sys.stderr)
        return 2
    print(f"machine: {machine()}")
    print(f"date: {datetime.now(UTC).isoformat(timespec='seconds')}; code: {code_version()}")
    with tempfile.TemporaryDirectory(prefix="bench-push-") as tmp:
        app = AppServer(
            database_url=sqlite_url(Path(tmp)),
            data_dir=Path(tmp),
            name="bench-push",
            env={"WEBHOOK_TOKEN": TOKEN},
            work_dir=Path(tmp) / "reflex",
        )
        print("starting the app (python -m remediation_app serve) on SQLite ...", flush=True)
        try:
            app.start()
            print(f"app at {app.url}; dashboard open, {args.count} alerts, one at a time")
            dom_ms, python_ms = measure(app, args.count)
        except BaseException:
            print(app.log_tail(), file=sys.stderr)
            raise
        finally:
            app.stop()
    p50, p95 = percentile(dom_ms, 50), percentile(dom_ms, 95)
    print(
        f"\nwebhook 200 -> row in the DOM: p50 {p50:.1f} ms, p95 {p95:.1f} ms, max {max(dom_ms):.1f} ms "
        f"(Playwright-side: p50 {percentile(python_ms, 50):.1f} ms, p95 {percentile(python_ms, 95):.1f} ms)"
    )
    print(f"aim (p95 < 500 ms): {'met' if p95 < 500 else 'NOT met'}")
    print(
        json.dumps(
            {
                "push_p50_ms": round(p50, 1),
                "push_p95_ms": round(p95, 1),
                "push_max_ms": round(max(dom_ms), 1),
                "playwright_p50_ms": round(percentile(python_ms, 50), 1),
                "playwright_p95_ms": round(percentile(python_ms, 95), 1),
                "count": len(dom_ms),
            }
        ),
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
