"""Chat streaming: what the engine adds between the provider's first token and the page showing it,
and what two streaming chats cost the webhook.

    .venv/bin/python bench/chat.py [--count 20] [--chunks 40] [--between 0.02] [--webhooks 40]

Starts the app (`python -m remediation_app serve`, tests/support/app_server.AppServer, SQLite) on a loopback
port with its environment provider pointed at the fake OpenAI-compatible server
(tests/support/fake_llm.FakeLLM, in this process on its own thread and event loop; the app is
another process). Opens an alert page in Debian's chromium through Playwright as a plain user.

A MutationObserver in the page records when the streamed answer's element (#chat-streaming-answer)
first has text (epoch ms: performance.timeOrigin + performance.now(), the same system clock as
Python's time.time()). The fake records when it wrote the answer's first piece of text to the
socket (time.time()). Then, `--count` times (after two warm-up questions): ask a question in the
same conversation (Enter in the question box), wait for the whole answer to be stored and shown,
and subtract. What is measured is the engine's whole path for a token: LiteLLM's parsing of the
SSE stream, run_stream's first push (at once), the state update and its websocket delta, and
React rendering the Markdown. The provider's own time to first token is not included (that is
what any client pays); each answer is `--chunks` pieces `--between` seconds apart.

Then the webhook under chats (what tests/e2e/test_chat.py checked as a ratio, a timing claim that
failed once on a shared machine): `--webhooks` posts one every 50 ms with no chat, then as many
while two users' answers stream (3,000 pieces 5 ms apart each, ~200 a second); the p50 and p99 of
both, and the ratio of the p99s.

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
if str(ROOT) not in sys.path:  # `python bench/chat.py` puts bench/, not the repository, first
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from playwright.sync_api import expect, sync_playwright  # noqa: E402

from tests.support.app_server import AppServer  # noqa: E402
from tests.support.benchmarking import code_version, machine, percentile  # noqa: E402
from tests.support.databases import sqlite_url  # noqa: E402
from tests.support.fake_llm import FakeLLM, RecordedRequest, stream  # noqa: E402
from tests.support.payloads import am_alert, notification  # noqa: E402

TOKEN = "bench-chat-token"
USER, PASSWORD = "bench-chatter", "bench-chat-password-1"
STREAMERS = ("bench-streamer-1", "bench-streamer-2")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
WARMUP = 2
TIMEOUT_MS = 30_000

# When the streamed answer first has text, in epoch ms, for the question armed by `window.__arm()`.
OBSERVER_JS = """
() => {
  window.__seen = null;
  window.__arm = () => { window.__seen = null; window.__armed = true; };
  const scan = () => {
    if (!window.__armed) return;
    const el = document.querySelector('#chat-streaming-answer');
    if (el && el.textContent.trim() !== '') {
      window.__seen = performance.timeOrigin + performance.now();
      window.__armed = false;
    }
  };
  new MutationObserver(scan).observe(document.body, {childList: true, subtree: true, characterData: true});
}
"""


def measure(app: AppServer, fake: FakeLLM, count: int, chunks: int, between: float) -> list[float]:
    """Overheads in ms (page shows text - provider wrote the first token) for `count` questions."""
    name = f"ChatBench{uuid.uuid4().hex[:8]}"
    headers = {"Authorization": f"Bearer {TOKEN}"}
    response = httpx.post(f"{app.url}/webhook/alerts", json=notification(am_alert(name)), headers=headers, timeout=30)
    response.raise_for_status()
    found = httpx.get(f"{app.url}/api/alerts", params={"q": name}, headers=app.bearer(), timeout=30).json()
    alert_id = found["items"][0]["id"]
    fake.default = lambda _request: stream([f"token{i} " for i in range(chunks)], between=between)
    overheads: list[float] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(bypass_csp=True)  # Playwright's wait_for_function evaluates strings
            app.login(context, USER, PASSWORD)
            page = context.new_page()
            page.goto(f"{app.url}/alerts/{alert_id}")
            page.wait_for_selector("#chat-question", timeout=60_000)
            page.evaluate(OBSERVER_JS)
            for i in range(WARMUP + count):
                before = len(fake.chat_requests)
                page.evaluate("window.__arm()")
                page.locator("#chat-question").fill(f"question {i}: what now?")
                page.locator("#chat-question").press("Enter")
                page.wait_for_function("window.__seen !== null", timeout=TIMEOUT_MS)
                seen_ms = float(page.evaluate("window.__seen"))
                page.wait_for_selector(f"#chat-messages .chat-assistant >> nth={i}", timeout=TIMEOUT_MS)
                page.wait_for_selector("#chat-live-answer", state="detached", timeout=TIMEOUT_MS)
                request: RecordedRequest = fake.chat_requests[before]
                if request.first_token_at is None:
                    raise RuntimeError("the fake provider recorded no first token")
                overhead = seen_ms - request.first_token_at * 1000
                label = "warm-up" if i < WARMUP else f"{i - WARMUP + 1:>2}/{count}"
                print(f"{label:>7}: first token in the DOM {overhead:6.1f} ms after the provider sent it")
                if i >= WARMUP:
                    overheads.append(overhead)
        finally:
            browser.close()
    return overheads


def webhook_latencies(app: AppServer, count: int, tag: str) -> list[float]:
    """`count` webhook posts, one every 50 ms; each one's latency in ms."""
    latencies: list[float] = []
    with httpx.Client(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30) as http:
        for i in range(count):
            body = notification(am_alert(f"ChatLoad{tag}{i}", severity="warning", instance=f"load-{i}:9100"))
            started = time.perf_counter()
            response = http.post(f"{app.url}/webhook/alerts", json=body)
            latencies.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
            time.sleep(0.05)
    return latencies


def new_alert_id(app: AppServer) -> int:
    name = f"ChatBench{uuid.uuid4().hex[:8]}"
    headers = {"Authorization": f"Bearer {TOKEN}"}
    body = notification(am_alert(name, severity="warning"))
    httpx.post(f"{app.url}/webhook/alerts", json=body, headers=headers, timeout=30).raise_for_status()
    found = httpx.get(f"{app.url}/api/alerts", params={"q": name}, headers=app.bearer(), timeout=30).json()
    return int(found["items"][0]["id"])


def webhook_under_chats(app: AppServer, fake: FakeLLM, count: int) -> dict[str, float]:
    """The webhook's latency without chats, then while two users' answers stream."""
    fake.default = lambda _request: stream([f"t{i} " for i in range(3000)], between=0.005)
    tag = uuid.uuid4().hex[:6]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            pages = []
            for user in STREAMERS:
                context = browser.new_context()
                app.login(context, user, PASSWORD)
                page = context.new_page()
                page.goto(f"{app.url}/alerts/{new_alert_id(app)}")
                page.wait_for_selector("#chat-question", timeout=60_000)
                pages.append(page)
            webhook_latencies(app, 5, tag + "warm")
            idle = webhook_latencies(app, count, tag + "idle")
            for n, page in enumerate(pages):
                page.locator("#chat-question").fill(f"stream {n}, please")
                page.locator("#chat-question").press("Enter")
            for page in pages:
                expect(page.locator("#chat-streaming-answer")).to_contain_text("t1 ", timeout=TIMEOUT_MS)
            loaded = webhook_latencies(app, count, tag + "load")
            if fake.in_flight != 2:
                raise RuntimeError("the chats ended before the measurement did: make the streams longer")
            for page in pages:
                page.locator("#chat-stop").click()
        finally:
            browser.close()
    figures = {
        "webhook_idle_p50_ms": percentile(idle, 50),
        "webhook_idle_p99_ms": percentile(idle, 99),
        "webhook_under_chats_p50_ms": percentile(loaded, 50),
        "webhook_under_chats_p99_ms": percentile(loaded, 99),
    }
    figures["webhook_p99_ratio"] = figures["webhook_under_chats_p99_ms"] / figures["webhook_idle_p99_ms"]
    return {name: round(value, 2) for name, value in figures.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20, help="questions measured (default 20)")
    parser.add_argument("--chunks", type=int, default=40, help="pieces per answer (default 40)")
    parser.add_argument("--between", type=float, default=0.02, help="seconds between pieces (default 0.02)")
    parser.add_argument("--webhooks", type=int, default=40, help="webhooks per phase, idle and loaded (default 40)")
    args = parser.parse_args()
    if not os.path.exists(CHROMIUM):
        print(f"{CHROMIUM} is not installed (make test-deps)", file=sys.stderr)
        return 2
    print(f"machine: {machine()}")
    print(f"date: {datetime.now(UTC).isoformat(timespec='seconds')}; code: {code_version()}")
    with tempfile.TemporaryDirectory(prefix="bench-chat-") as tmp, FakeLLM() as fake:
        app = AppServer(
            database_url=sqlite_url(Path(tmp)),
            data_dir=Path(tmp),
            name="bench-chat",
            env={
                "WEBHOOK_TOKEN": TOKEN,
                "LLM_MODEL": "openai/gpt-4o-mini",
                "LLM_API_BASE": fake.api_base,
                "LLM_API_KEY": "sk-bench",
            },
            work_dir=Path(tmp) / "reflex",
        )
        print("starting the app (python -m remediation_app serve) on SQLite ...", flush=True)
        try:
            app.start()
            for user in (USER, *STREAMERS):
                app.add_user(user, PASSWORD)
            print(f"app at {app.url}; {args.count} questions, {args.chunks} pieces {args.between * 1000:.0f} ms apart")
            overheads = measure(app, fake, args.count, args.chunks, args.between)
            print(
                f"webhook latency: {args.webhooks} posts without chats, then {args.webhooks} under two streaming chats"
            )
            webhook = webhook_under_chats(app, fake, args.webhooks)
        except BaseException:
            print(app.log_tail(), file=sys.stderr)
            raise
        finally:
            app.stop()
    p50, p95 = percentile(overheads, 50), percentile(overheads, 95)
    print(
        f"\nprovider's first token -> first token in the DOM: p50 {p50:.1f} ms, p95 {p95:.1f} ms, "
        f"max {max(overheads):.1f} ms"
    )
    print(f"aim (p50 <= 50 ms): {'met' if p50 <= 50 else 'NOT met'}")
    print(
        f"webhook p50/p99: without chats {webhook['webhook_idle_p50_ms']}/{webhook['webhook_idle_p99_ms']} ms, "
        f"under two streaming chats {webhook['webhook_under_chats_p50_ms']}/{webhook['webhook_under_chats_p99_ms']} ms "
        f"(p99 ratio {webhook['webhook_p99_ratio']})"
    )
    result = {"ttft_overhead_p50_ms": round(p50, 1), "ttft_overhead_p95_ms": round(p95, 1), **webhook}
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
