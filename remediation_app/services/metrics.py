"""Prometheus metrics of the engine (no reflex import): definitions, recording functions, exposition.

Label values are bounded: HTTP status codes, RuleAction values, job outcomes, queue statuses, token
kinds, silence actions and kinds, notification outcomes, and model and Alertmanager connection names
and notification target kinds (Apprise schemes) (cut to 100 characters, at most MAX_MODELS distinct of
each per process, then "other"). Never a fingerprint,
a label of an alert or any other free text from a payload.

Several worker processes (granian, `GRANIAN_WORKERS=N`) each count what they serve, and a scrape
reaches one of them, so the values live in files that every worker can read (prometheus_client's
multiprocess mode). `setup_multiprocess` turns it on at server start, before anything is recorded:
- `PROMETHEUS_MULTIPROC_DIR` set: that directory (the operator empties it before each start, and
  gives each instance its own);
- otherwise `DATA_DIR/metrics/<host>/<server>`, where `<server>` is the process id and start time of the
  process that started the workers (their parent): every worker of one server shares it, a restart
  begins a new one (counters restart from zero, which Prometheus handles), and the directories of
  servers no longer running are removed.
Without `setup_multiprocess` (tests, a plain import) the values live in this process's memory.
The queue depth is read from the database at scrape time, by whichever worker is scraped.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import psutil
import sqlalchemy as sa
from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    values,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector

from remediation_app.db import sync_engine
from remediation_app.models import JobStatus, RuleAction

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
JOB_OUTCOMES = ("succeeded", "failed", "retried", "cancelled")
QUEUE_STATUSES = tuple(status.value for status in JobStatus)
ACTIONS = tuple(action.value for action in RuleAction)
TOKEN_KINDS = ("prompt", "completion")
SILENCE_ACTIONS = ("created", "expired")
SILENCE_KINDS = ("silence", "ack", "external")
NOTIFY_OUTCOMES = ("sent", "failed", "retried", "throttled", "cancelled")
OTHER = "other"
MODEL_LABEL_MAX = 100
MAX_MODELS = 20
INGEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
LLM_BUCKETS = (0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)
QUEUE_DEPTH_SQL = sa.text("SELECT status, count(*) FROM analysis_jobs GROUP BY status")
_LIVE_GAUGE_PREFIXES = ("gauge_liveall_", "gauge_livesum_", "gauge_livemax_", "gauge_livemin_", "gauge_livemostrecent_")


@dataclass
class _Metrics:
    webhook_requests: Counter
    alerts_ingested: Counter
    ingest_seconds: Histogram
    jobs: Counter
    llm_seconds: Histogram
    llm_tokens: Counter
    llm_cost: Counter
    terminal_sessions: Gauge
    budget_reached: Gauge
    silences: Counter
    am_syncs: Counter
    storm_calls_saved: Counter
    notify_deliveries: Counter


def _build(registry: CollectorRegistry | None) -> _Metrics:
    m = _Metrics(
        webhook_requests=Counter(
            "remediation_webhook_requests",
            "Requests to POST /webhook/alerts, by HTTP status of the answer (401, 413, 422 and 503 included).",
            ["status"],
            registry=registry,
        ),
        alerts_ingested=Counter(
            "remediation_alerts_ingested",
            "Alerts stored from webhook notifications, by the action their rule decided.",
            ["action"],
            registry=registry,
        ),
        ingest_seconds=Histogram(
            "remediation_ingest_seconds",
            "Time to ingest one notification with alerts: read, parse, store and commit.",
            buckets=INGEST_BUCKETS,
            registry=registry,
        ),
        jobs=Counter(
            "remediation_analysis_jobs",
            "Analysis job attempts that ended, by outcome (succeeded, failed, retried, cancelled).",
            ["outcome"],
            registry=registry,
        ),
        llm_seconds=Histogram(
            "remediation_llm_request_seconds",
            "Duration of LLM provider calls, by model.",
            ["model"],
            buckets=LLM_BUCKETS,
            registry=registry,
        ),
        llm_tokens=Counter(
            "remediation_llm_tokens",
            "LLM tokens used, by model and kind (prompt, completion).",
            ["model", "kind"],
            registry=registry,
        ),
        llm_cost=Counter(
            "remediation_llm_cost_usd",
            "Estimated LLM cost in US dollars, by model.",
            ["model"],
            registry=registry,
        ),
        terminal_sessions=Gauge(
            "remediation_terminal_sessions_active",
            "Browser terminal sessions open now (all workers).",
            registry=registry,
            multiprocess_mode="livesum",
        ),
        budget_reached=Gauge(
            "remediation_llm_budget_reached",
            "1 while the LLM budget is used up (automatic analyses paused), else 0.",
            registry=registry,
            multiprocess_mode="livemostrecent",
        ),
        silences=Counter(
            "remediation_alertmanager_silences",
            "Silences made or expired through the engine, by action (created, expired) and kind (silence, ack; "
            "external: made outside the engine, expired here).",
            ["action", "kind"],
            registry=registry,
        ),
        am_syncs=Counter(
            "remediation_alertmanager_syncs",
            "Sync cycles with each Alertmanager connection (its name; at most 20, then other), by outcome (ok, error).",
            ["alertmanager", "outcome"],
            registry=registry,
        ),
        storm_calls_saved=Counter(
            "remediation_storm_calls_saved",
            "Analyses not run because storm control analysed the alerts' incident once, as a group.",
            registry=registry,
        ),
        notify_deliveries=Counter(
            "remediation_notify_deliveries",
            "Notification attempts and decisions, by target kind (the Apprise scheme: json, mailto, slack...; at "
            "most 20, then other) and outcome (sent, failed, retried, throttled, cancelled).",
            ["target", "outcome"],
            registry=registry,
        ),
    )
    # Known label values start at 0, so rate() and absent-series alerts work from the first scrape.
    for action in ACTIONS:
        m.alerts_ingested.labels(action=action)
    for outcome in JOB_OUTCOMES:
        m.jobs.labels(outcome=outcome)
    for silence_action in SILENCE_ACTIONS:
        for kind in SILENCE_KINDS:
            m.silences.labels(action=silence_action, kind=kind)
    # budget_reached starts at 0 without a set(): a set() here would date a 0 now, and in multiprocess
    # mode (most recent value wins) hide a 1 that another worker set earlier.
    return m


class QueueDepthCollector(Collector):
    """`remediation_analysis_queue_depth{status}` from the analysis_jobs table, read at scrape time.

    When the query fails (database down, or not migrated yet: no table) the depth is left out and
    `remediation_metrics_database_up` is 0.
    """

    def __init__(self, query: Callable[[], Iterable[tuple[str, int]]] | None = None) -> None:
        self._query = query
        self._was_up = True

    def describe(self) -> Iterable[Metric]:
        return []  # nothing at registration: collect() reads the database

    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily(
            "remediation_metrics_database_up",
            "1 when this scrape could read the analysis queue from the database, else 0 (unreachable or not migrated).",
        )
        try:
            rows = list((self._query or _queue_counts)())
        except Exception as exc:  # a scrape must answer whatever the database does
            if self._was_up:
                log.warning("metrics: analysis queue not readable: %s", type(exc).__name__)
            self._was_up = False
            up.add_metric([], 0)
            return [up]
        self._was_up = True
        counts = dict.fromkeys(QUEUE_STATUSES, 0)
        for status, count in rows:
            key = status if status in counts else OTHER
            counts[key] = counts.get(key, 0) + int(count)
        depth = GaugeMetricFamily(
            "remediation_analysis_queue_depth", "Analysis jobs in the queue table, by status.", labels=["status"]
        )
        for status, count in counts.items():
            depth.add_metric([status], count)
        up.add_metric([], 1)
        return [depth, up]


def _queue_counts() -> list[tuple[str, int]]:
    with sync_engine().connect() as conn:
        return [(str(status), int(count)) for status, count in conn.execute(QUEUE_DEPTH_SQL)]


class _State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.metrics: _Metrics | None = None
        self.registry: CollectorRegistry | None = None  # what a scrape collects
        self.multiproc_dir: Path | None = None
        self.models: set[str] = set()
        self.alertmanagers: set[str] = set()
        self.notify_targets: set[str] = set()


_state = _State()


def _m() -> _Metrics:
    metrics = _state.metrics
    if metrics is not None:
        return metrics
    with _state.lock:
        if _state.metrics is None:
            # No *_created series: nothing needs them, and multiprocess mode has none.
            disable_created_metrics()  # type: ignore[no-untyped-call]
            registry = CollectorRegistry()
            if _state.multiproc_dir is None:
                _state.metrics = _build(registry)
            else:
                _state.metrics = _build(None)  # values go to files; the scrape merges every process's
                MultiProcessCollector(registry, path=str(_state.multiproc_dir))  # type: ignore[no-untyped-call]
            registry.register(QueueDepthCollector())
            _state.registry = registry
        return _state.metrics


# --- multiprocess ----------------------------------------------------------------------------------


SERVER_PID_ENV = "REMEDIATION_SERVER_PID"  # set by remediation_app/serve.py


def _server_name(pid: int) -> str | None:
    """`<pid>-<start time>` of a running process (the start time tells a reused pid apart), else None."""
    try:
        return f"{pid}-{round(psutil.Process(pid).create_time() * 100)}"
    except (psutil.Error, OSError):
        return None


def _remove_stale_servers(root: Path, keep: str) -> None:
    """Remove the metric directories of servers that are no longer running."""
    with contextlib.suppress(OSError):
        for entry in root.iterdir():
            pid, sep, _ = entry.name.partition("-")
            if entry.name == keep or not sep or not pid.isdigit() or not entry.is_dir():
                continue
            if _server_name(int(pid)) != entry.name:
                shutil.rmtree(entry, ignore_errors=True)


def setup_multiprocess(data_dir: Path) -> Path | None:
    """Keep this process's metric values in files shared with the other workers; returns the directory.

    Call once at server start (the app's lifespan does), before anything is recorded: values recorded
    before it, in this process only, are dropped. A second call returns the same directory. When the
    directory cannot be made, metrics stay in this process's memory (None), with a warning.
    """
    with _state.lock:
        if _state.multiproc_dir is not None:
            return _state.multiproc_dir
        configured = os.environ.get(MULTIPROC_ENV, "").strip()
        if configured:
            path = Path(configured)
        else:
            # Per host: replicas sharing one data volume judge "is that server still running" only by
            # the pids of their own host (their own pid namespace).
            root = (data_dir / "metrics" / (socket.gethostname() or "localhost")).resolve()
            # The process that owns the listening socket: `serve` names itself (one process, or the
            # supervisor of forked workers); elsewhere a worker's parent is its server.
            owner = os.environ.get(SERVER_PID_ENV, "")
            server = (
                (_server_name(int(owner)) if owner.isdigit() else None)
                or _server_name(os.getppid())
                or _server_name(os.getpid())
                or str(os.getpid())
            )
            path = root / server
            _remove_stale_servers(root, keep=server)
            os.environ[MULTIPROC_ENV] = str(path)  # where prometheus_client opens this process's files
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            log.warning("metrics: %s cannot be created (%s): each worker reports only its own counts", path, exc)
            if not configured:
                os.environ.pop(MULTIPROC_ENV, None)
            return None
        values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call]
        _state.multiproc_dir = path
        _state.metrics = None  # rebuilt on first use, backed by the files
        _state.registry = None
        _state.models.clear()
        _state.alertmanagers.clear()
        _state.notify_targets.clear()
    log.info("metrics: every worker's values in %s", path)
    return path


def multiprocess_dir() -> Path | None:
    """The directory of the metric files, or None when values live in this process's memory."""
    return _state.multiproc_dir


def _forget_dead_processes(path: Path) -> None:
    """Gauges of live processes only ("livesum"): drop the files of workers that have exited."""
    with contextlib.suppress(OSError):
        for entry in path.iterdir():
            if entry.name.startswith(_LIVE_GAUGE_PREFIXES) and entry.suffix == ".db":
                pid = entry.stem.rpartition("_")[2]
                if pid.isdigit() and not psutil.pid_exists(int(pid)):
                    with contextlib.suppress(OSError):
                        mark_process_dead(int(pid), str(path))  # type: ignore[no-untyped-call]


# --- exposition ------------------------------------------------------------------------------------


def render() -> bytes:
    """The text exposition of every metric (all workers' in multiprocess mode) plus the queue depth.

    Blocking (reads files and the database): call it in a thread from async code.
    """
    _m()
    registry = _state.registry
    assert registry is not None
    if _state.multiproc_dir is not None:
        _forget_dead_processes(_state.multiproc_dir)
    return generate_latest(registry)


# --- recording -------------------------------------------------------------------------------------


def record_webhook_request(status: int) -> None:
    """One answer of POST /webhook/alerts (whatever its status)."""
    _m().webhook_requests.labels(status=str(int(status))).inc()


def record_ingest(by_action: Mapping[str, int], seconds: float) -> None:
    """One stored notification: alerts per action (IngestResult.by_action) and the time it took."""
    m = _m()
    for action, count in by_action.items():
        if count > 0:
            m.alerts_ingested.labels(action=action if action in ACTIONS else OTHER).inc(count)
    m.ingest_seconds.observe(max(seconds, 0.0))


def record_storm_calls_saved(count: int) -> None:
    """Storm control analysed a group once instead of `count` more analyses of its alerts."""
    if count > 0:
        _m().storm_calls_saved.inc(count)


def record_job_outcome(outcome: str) -> None:
    """An analysis job attempt ended: succeeded, failed, retried or cancelled (anything else: "other")."""
    _m().jobs.labels(outcome=outcome if outcome in JOB_OUTCOMES else OTHER).inc()


def _bounded_label(value: str, seen: set[str]) -> str:
    """`value` as a label value, cut to MODEL_LABEL_MAX; past MAX_MODELS distinct ones, "other"."""
    label = (value or "unknown")[:MODEL_LABEL_MAX]
    if label in seen:
        return label
    with _state.lock:
        if len(seen) >= MAX_MODELS:
            return OTHER
        seen.add(label)
    return label


def _model_label(model: str) -> str:
    return _bounded_label(model, _state.models)


def record_llm_call(
    model: str,
    seconds: float,
    prompt_tokens: int | None,
    completion_tokens: int | None,
    cost_usd: float | None,
) -> None:
    """One call to the LLM provider (successful or not): its duration and, when known, tokens and cost."""
    m = _m()
    label = _model_label(model)
    m.llm_seconds.labels(model=label).observe(max(seconds, 0.0))
    for kind, tokens in (("prompt", prompt_tokens), ("completion", completion_tokens)):
        if tokens is not None and tokens > 0:
            m.llm_tokens.labels(model=label, kind=kind).inc(tokens)
    if cost_usd is not None and cost_usd > 0:
        m.llm_cost.labels(model=label).inc(cost_usd)


def record_silence(action: str, kind: str) -> None:
    """A silence created or expired through the engine (kind silence, ack or external)."""
    known = action in SILENCE_ACTIONS and kind in SILENCE_KINDS
    _m().silences.labels(action=action if known else OTHER, kind=kind if known else OTHER).inc()


def record_alertmanager_sync(alertmanager: str, ok: bool) -> None:
    """One sync cycle with an Alertmanager connection (by its name), done or failed."""
    label = _bounded_label(alertmanager, _state.alertmanagers)
    _m().am_syncs.labels(alertmanager=label, outcome="ok" if ok else "error").inc()


def record_notify_delivery(target_kind: str, outcome: str) -> None:
    """A notification sent, failed for good, retried later, throttled or cancelled, by its target's kind."""
    label = _bounded_label(target_kind, _state.notify_targets)
    _m().notify_deliveries.labels(target=label, outcome=outcome if outcome in NOTIFY_OUTCOMES else OTHER).inc()


def terminal_session_opened() -> None:
    _m().terminal_sessions.inc()


def terminal_session_closed() -> None:
    _m().terminal_sessions.dec()


def set_budget_reached(reached: bool) -> None:
    """The LLM budget is used up (1) or not (0); the most recent value from any worker wins."""
    _m().budget_reached.set(1 if reached else 0)
