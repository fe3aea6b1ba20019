"""What the investigation tests share (tests/integration/test_investigation*.py): a real Prometheus with
backfilled history, the fake provider, the app's environment for an analysis, alerts of that history,
and running one analysis through the webhook and the real worker."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote as urlquote

import pytest
from sqlmodel import col, select

from remediation_app.db import async_session
from remediation_app.models import Analysis, AnalysisJob, Evidence
from remediation_app.services.llm import costs
from remediation_app.services.llm.sdk import litellm_module
from remediation_app.services.llm.worker import AnalysisWorker
from tests.conftest import require_tool
from tests.support.analysis_jobs import all_done, running, wait_jobs
from tests.support.fake_llm import FakeLLM, RecordedRequest
from tests.support.payloads import am_alert, notification
from tests.support.prom_history import HistoryPrometheus, history_prometheus

DISK_VALUE = 'node_filesystem_avail_bytes{mountpoint="/var"} / node_filesystem_size_bytes{mountpoint="/var"}'
DISK_EXPR = f"{DISK_VALUE} < 0.05"
# A job that takes longer hangs the queue. The evidence has INVESTIGATION_BUDGET_SECONDS (8 s) in all.
JOB_BOUND_S = 20.0
EVIDENCE_BLOCK = re.compile(r"<evidence-([0-9a-f]+)>\n(.*?)\n</evidence-\1>", re.DOTALL)


@pytest.fixture(scope="module")
def history_prom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HistoryPrometheus]:
    """A real Prometheus with known history (as in test_prometheus_client.py)."""
    prometheus_bin, promtool_bin = require_tool("prometheus"), require_tool("promtool")
    with history_prometheus(prometheus_bin, promtool_bin, tmp_path_factory.mktemp("history-prometheus")) as started:
        yield started


@pytest.fixture(scope="module", autouse=True)
def litellm_loaded() -> None:
    """LiteLLM imported before the first job, as the app's start does (warm_up): the bounds on a job's
    time are about the investigation, not a ten-second import."""
    litellm_module()


@pytest.fixture
def fake() -> Iterator[FakeLLM]:
    with FakeLLM() as server:
        yield server


@pytest.fixture
def env(app_env: Callable[..., None], fake: FakeLLM) -> Callable[..., None]:
    """The environment's provider is the fake (one call, not local: redacted), no datasource, one
    attempt per job (a bug shows as a failed job, not as a retry), a quick queue."""
    app_env(
        LLM_MODEL="openai/gpt-4o-mini",
        LLM_API_BASE=fake.api_base,
        LLM_API_KEY="sk-test-key",
        LLM_TIMEOUT_SECONDS="10",
        LLM_TOOL_CALLING="off",
        LLM_LOCAL=None,
        PROMETHEUS_URL=None,
        PROMETHEUS_BEARER_TOKEN=None,
        PROMETHEUS_TIMEOUT_SECONDS=None,
        INVESTIGATION_BUDGET_SECONDS=None,
        INVESTIGATION_WINDOW_HOURS=None,
        INVESTIGATION_TOOL_STEPS=None,
        INVESTIGATION_WALL_SECONDS=None,
        INVESTIGATION_MAX_TOKENS=None,
        INVESTIGATION_MAX_COST_USD=None,
        ANALYSIS_MAX_ATTEMPTS="1",
        ANALYSIS_POLL_SECONDS="0.1",
    )
    costs.clear_cache()
    return app_env


# ---- helpers


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


def seconds(moment: datetime | None) -> float:
    """A stored time as unix seconds (SQLite gives it back naive, in UTC)."""
    assert moment is not None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def generator_url(base: str, expr: str) -> str:
    return f"{base}/graph?g0.expr={urlquote(expr, safe='')}&g0.tab=1"


def disk_alert(
    history_prom: HistoryPrometheus, *, base: str | None = None, starts_at: str | None = None, **kwargs: Any
) -> dict[str, Any]:
    """The /var alert of the backfilled history, started four minutes before its last sample (the
    ratio crossed 5% about five minutes before it); its generatorURL names `base` (the real one)."""
    history = history_prom.history
    alert = am_alert(
        "VarFilling",
        severity="critical",
        instance=history.disk.instance,
        job=history.disk.job,
        starts_at=starts_at or iso(history.end - 240),
        labels={"mountpoint": "/var"},
        **kwargs,
    )
    alert["generatorURL"] = generator_url(base or history_prom.url, DISK_EXPR)
    return alert


def latency_alert(history_prom: HistoryPrometheus) -> dict[str, Any]:
    """The checkout p99 alert, started two minutes into the spike of the backfilled history."""
    latency = history_prom.history.latency
    alert = am_alert(
        "CheckoutSlow",
        severity="critical",
        instance=latency.instance,
        job=latency.job,
        starts_at=iso(latency.spike_start + 120),
    )
    alert["generatorURL"] = generator_url(history_prom.url, f"{latency.p99_query()} > 1")
    return alert


async def analyse(post_webhook: Any, alert: dict[str, Any], *earlier: dict[str, Any]) -> tuple[int, AnalysisJob, float]:
    """Post `earlier` alerts (none is analysed: warning, or resolved), then `alert` (critical, analysed
    at once); run the worker until every job ended, within JOB_BOUND_S. Returns the alert's id, its
    job and how long the worker took."""
    if earlier:
        r = await post_webhook(notification(*earlier))
        assert r.status_code == 200, r.text
    r = await post_webhook(notification(alert))
    assert r.status_code == 200, r.text
    assert r.json()["by_action"] == {"auto_analyze": 1}
    started = time.monotonic()
    async with running(AnalysisWorker()):
        jobs = await wait_jobs(all_done, timeout=JOB_BOUND_S)
    took = time.monotonic() - started
    job = jobs[-1]
    assert job.status == "succeeded", job.last_error
    return job.alert_id, job, took


async def stored(alert_id: int) -> tuple[Analysis, list[Evidence]]:
    async with async_session() as session:
        analysis = (await session.exec(select(Analysis).where(col(Analysis.alert_id) == alert_id))).one()
        found = await session.exec(
            select(Evidence).where(col(Evidence.analysis_id) == analysis.id).order_by(col(Evidence.id))
        )
        return analysis, list(found.all())


def user_prompt(request: RecordedRequest) -> str:
    return next(str(m["content"]) for m in request.messages if m.get("role") == "user")


def evidence_block(request: RecordedRequest) -> str:
    found = EVIDENCE_BLOCK.search(user_prompt(request))
    assert found is not None, user_prompt(request)
    return found.group(2)


def as_quoted(text: str) -> str:
    """`text` as a quoted block of the prompt holds it (< and > escaped: prompts.quote)."""
    return text.replace("<", "\\u003c").replace(">", "\\u003e")


def sent_text(fake: FakeLLM) -> str:
    """Everything every request carried, as text (JSON escapes undone)."""
    return "\n".join(json.dumps(r.json, ensure_ascii=False) for r in fake.requests)
