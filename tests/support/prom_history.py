"""A real Prometheus with three hours of known history and a live target, for tests of what the
engine reads from a datasource.

History (backfilled with promtool before the start, a sample every 15 s, ending just before "now"):
- disk: node_filesystem_avail_bytes / node_filesystem_size_bytes{job="node", instance="db1:9100"}:
  mountpoint "/var" falls linearly from 40% free to 4% free; mountpoint "/" stays at 70% free.
- latency: the histogram http_request_duration_seconds{job="api", instance="api1:8080",
  handler="/checkout"}: 200 requests per 15 s with a p99 of 0.1 s, except for 20 minutes about an
  hour before the end (`spike_start` to `spike_end`) where the p99 is 2.5 s.
Live: a loopback exporter (job "live") scraped every second; a test sets a gauge and waits for the
scrapes that make it visible (`set_and_wait`), never for a fixed time.

Queries about the history should be evaluated at `history.end` or earlier, not "now": a module's
tests may run for a while, and a sample is only returned for five minutes after it.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.support.prometheus import Prometheus

STEP_S = 15
HOURS = 3
GIB = 1024**3
BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


@dataclass(frozen=True)
class DiskHistory:
    job: str
    instance: str
    mountpoint: str
    size_bytes: int
    # (unix seconds, bytes available) exactly as stored.
    samples: tuple[tuple[float, float], ...]

    def avail_at(self, at: float) -> float:
        """What Prometheus returns at `at`: the newest sample at or before it (within 5 minutes)."""
        older = [value for ts, value in self.samples if ts <= at and at - ts <= 300]
        if not older:
            raise ValueError(f"no sample within 5 minutes before {at}")
        return older[-1]

    def selector(self, metric: str = "node_filesystem_avail_bytes") -> str:
        return f'{metric}{{job="{self.job}",instance="{self.instance}",mountpoint="{self.mountpoint}"}}'


@dataclass(frozen=True)
class LatencyHistory:
    job: str = "api"
    instance: str = "api1:8080"
    handler: str = "/checkout"
    requests_per_sample: int = 200
    normal_p99: float = 0.1
    spike_p99: float = 2.5
    spike_start: float = 0.0
    spike_end: float = 0.0

    def p99_query(self, window: str = "1m") -> str:
        return (
            "histogram_quantile(0.99, sum by (le) (rate("
            f'http_request_duration_seconds_bucket{{job="{self.job}"}}[{window}])))'
        )


@dataclass(frozen=True)
class History:
    start: float  # the first sample
    end: float  # the last sample, a little before Prometheus starts
    step_s: float
    disk: DiskHistory  # /var, filling up
    root: DiskHistory  # /, steady
    latency: LatencyHistory = field(default_factory=LatencyHistory)

    def openmetrics(self) -> str:
        """The history as promtool reads it: families not interleaved, timestamps in seconds, "# EOF"."""
        lines: list[str] = []
        for metric in ("node_filesystem_avail_bytes", "node_filesystem_size_bytes"):
            lines.append(f"# TYPE {metric} gauge")
            for disk in (self.disk, self.root):
                labels = f'job="{disk.job}",instance="{disk.instance}",mountpoint="{disk.mountpoint}",fstype="ext4"'
                for ts, avail in disk.samples:
                    value = avail if metric == "node_filesystem_avail_bytes" else disk.size_bytes
                    lines.append(f"{metric}{{{labels}}} {value:.0f} {ts:.0f}")
        lines.extend(self._latency_lines())
        lines.append("# EOF")
        return "\n".join(lines) + "\n"

    def _latency_lines(self) -> Iterator[str]:
        """99% of requests in the bucket ending at the p99, 1% in the next one: histogram_quantile(0.99)
        then lands on that bucket's upper bound."""
        lat = self.latency
        labels = f'job="{lat.job}",instance="{lat.instance}",handler="{lat.handler}"'
        yield "# TYPE http_request_duration_seconds histogram"
        counts = [0] * (len(BUCKETS) + 1)
        total = 0.0
        n = lat.requests_per_sample
        for ts in _times(self.start, self.end, self.step_s):
            p99 = lat.spike_p99 if lat.spike_start <= ts < lat.spike_end else lat.normal_p99
            at = BUCKETS.index(p99)
            counts[at] += n * 99 // 100
            counts[at + 1] += n - n * 99 // 100
            total += (n * 99 // 100) * p99 * 0.8 + (n - n * 99 // 100) * BUCKETS[at + 1] * 0.8
            cumulative = 0
            for bound, count in zip([*BUCKETS, math.inf], counts, strict=True):
                cumulative += count
                le = "+Inf" if bound == math.inf else repr(bound)
                yield f'http_request_duration_seconds_bucket{{{labels},le="{le}"}} {cumulative} {ts:.0f}'
            yield f"http_request_duration_seconds_count{{{labels}}} {cumulative} {ts:.0f}"
            yield f"http_request_duration_seconds_sum{{{labels}}} {total:.3f} {ts:.0f}"


def _times(start: float, end: float, step: float) -> list[float]:
    return [start + i * step for i in range(int((end - start) // step) + 1)]


def make_history(now: float | None = None) -> History:
    """Three hours of samples ending one step before `now` (rounded down to the step)."""
    now = time.time() if now is None else now
    end = math.floor(now / STEP_S) * STEP_S - STEP_S
    start = end - HOURS * 3600
    times = _times(start, end, STEP_S)
    size = 100 * GIB
    last = len(times) - 1
    filling = tuple((ts, float(round(size * (0.40 - 0.36 * i / last)))) for i, ts in enumerate(times))
    steady = tuple((ts, float(round(size * 0.70))) for ts in times)
    spike_start = end - 70 * 60
    latency = LatencyHistory(spike_start=spike_start, spike_end=spike_start + 20 * 60)
    return History(
        start=start,
        end=end,
        step_s=STEP_S,
        disk=DiskHistory("node", "db1:9100", "/var", size, filling),
        root=DiskHistory("node", "db1:9100", "/", size, steady),
        latency=latency,
    )


def _label_text(labels: tuple[tuple[str, str], ...]) -> str:
    """Labels in the text exposition format: backslash, double quote and newline escaped."""
    escaped = ((k, v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")) for k, v in labels)
    return ",".join(f'{k}="{v}"' for k, v in escaped)


class LiveExporter:
    """A /metrics endpoint on loopback with gauges a test sets; counts the scrapes it serves."""

    def __init__(self) -> None:
        self._gauges: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        self._scrapes = 0
        self._changed = threading.Condition()
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = exporter._render().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.target = f"127.0.0.1:{self._server.server_address[1]}"
        # shutdown() waits for the loop's next poll: a short interval keeps each test's teardown quick.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="live-exporter", daemon=True
        )

    def _render(self) -> str:
        # Counting and rendering under one lock: a scrape counted after `set` shows the new value.
        with self._changed:
            self._scrapes += 1
            self._changed.notify_all()
            lines = [
                f"{name}{{{_label_text(labels)}}} {value!r}" for (name, labels), value in sorted(self._gauges.items())
            ]
        return "\n".join(lines) + "\n"

    def set(self, name: str, value: float, **labels: str) -> None:
        with self._changed:
            self._gauges[(name, tuple(sorted(labels.items())))] = value

    def set_and_wait(self, gauges: dict[str, float] | None = None, timeout: float = 30, **labels: str) -> None:
        """Set gauges (all with `labels`), then wait for two scrapes that began after: Prometheus
        scrapes a target one request at a time and commits a scrape before starting the next, so
        the first one's samples are then queryable."""
        with self._changed:
            for name, value in (gauges or {}).items():
                self._gauges[(name, tuple(sorted(labels.items())))] = value
            wanted = self._scrapes + 2
            if not self._changed.wait_for(lambda: self._scrapes >= wanted, timeout):
                raise TimeoutError(f"Prometheus did not scrape {self.target} twice within {timeout}s")

    def __enter__(self) -> LiveExporter:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


@dataclass
class HistoryPrometheus:
    url: str
    history: History
    exporter: LiveExporter
    prometheus: Prometheus


@contextlib.contextmanager
def history_prometheus(prometheus_bin: str, promtool_bin: str, workdir: Path) -> Iterator[HistoryPrometheus]:
    """Prometheus with `make_history()` backfilled and the live exporter scraped once at least."""
    history = make_history()
    with LiveExporter() as exporter:
        prometheus = Prometheus(prometheus_bin, workdir, scrape_targets=[exporter.target])
        prometheus.backfill(promtool_bin, history.openmetrics())
        with prometheus:
            exporter.set_and_wait({"live_exporter_ready": 1})
            yield HistoryPrometheus(prometheus.url, history, exporter, prometheus)
