"""The investigation on the alert page, in Chromium: the alert's metric as a line chart (its start and
threshold marked), each evidence item with its query and a link to the datasource's graph, the
ranked hypotheses with chips for their evidence, all arriving live with the analysis.

The app's datasource (PROMETHEUS_URL) is a real Prometheus with three hours of backfilled history
(tests/support/prom_history.py: /var filling from 40% to 4% free on db1:9100); the provider is the
loopback fake, answering by alertname. Analyses are asked through the API while the page is open,
so what the page shows arrives through the live refresh, never a reload.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.conftest import WEBHOOK_TOKEN, require_tool
from tests.e2e.conftest import post_alerts, unique
from tests.e2e.test_analysis_page import (
    ANALYSIS_TIMEOUT_MS,
    SCRIPT,
    Replies,
    admin_tab,
    alert_id,
    answer,
    assert_inert,
    open_alert,
)
from tests.support.app_server import AppServer, started_app
from tests.support.fake_llm import GOOD_ANALYSIS, FakeLLM, Step, reply_json
from tests.support.payloads import am_alert, notification
from tests.support.prom_history import HistoryPrometheus, history_prometheus

pytestmark = pytest.mark.e2e

DISK_VALUE = 'node_filesystem_avail_bytes{mountpoint="/var"} / node_filesystem_size_bytes{mountpoint="/var"}'
DISK_EXPR = f"{DISK_VALUE} < 0.05"
AWS_KEY = "AKIAZ7QX3M5T2LBN4KWP"  # redacted before the prompt leaves: counted on the page


@pytest.fixture(scope="module")
def history_prom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HistoryPrometheus]:
    prometheus_bin, promtool_bin = require_tool("prometheus"), require_tool("promtool")
    with history_prometheus(prometheus_bin, promtool_bin, tmp_path_factory.mktemp("e2e-prometheus")) as started:
        yield started


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeLLM]:
    with FakeLLM() as server:
        server.default = Replies()
        yield server


@pytest.fixture(scope="module")
def evidence_app(
    tmp_path_factory: pytest.TempPathFactory, fake: FakeLLM, history_prom: HistoryPrometheus, _stop_on_sigterm: None
) -> Iterator[AppServer]:
    env = {
        "WEBHOOK_TOKEN": WEBHOOK_TOKEN,
        "LLM_MODEL": "openai/gpt-4o-mini",
        "LLM_API_BASE": fake.api_base,
        "LLM_API_KEY": "sk-test",
        "LLM_TOOL_CALLING": "off",  # one call: the evidence is what the engine gathered
        "PROMETHEUS_URL": history_prom.url,
        "ANALYSIS_MAX_ATTEMPTS": "1",
        "ANALYSIS_POLL_SECONDS": "0.2",
    }
    with started_app(tmp_path_factory.mktemp("e2e-evidence"), "e2e-evidence", env=env) as server:
        yield server


def generator_url(base: str, expr: str) -> str:
    return f"{base}/graph?g0.expr={quote(expr, safe='')}&g0.tab=1"


def disk_alert(
    history_prom: HistoryPrometheus, name: str, expr: str = DISK_EXPR, instance: str = "", **kwargs: Any
) -> dict[str, Any]:
    """The /var alert of the history, started four minutes before its last sample; a warning, so no
    rule analyses it before the test asks."""
    history = history_prom.history
    alert = am_alert(
        name,
        instance=instance or history.disk.instance,
        job=history.disk.job,
        starts_at=datetime.fromtimestamp(history.end - 240, UTC).isoformat(),
        labels={"mountpoint": "/var"},
        **kwargs,
    )
    alert["generatorURL"] = generator_url(history_prom.url, expr)
    return alert


def answer_only(fake: FakeLLM, alertname: str, step: Callable[[], Step]) -> None:
    """The fake answers a prompt naming `alertname` with `step`, forgetting earlier tests' answers: a
    prompt may name their alerts too (as related alerts), and the first name found decides."""
    fake.default.by_alert.clear()  # type: ignore[union-attr]
    answer(fake, alertname, step)


def analyze(app: AppServer, alert: int) -> None:
    """Ask for an analysis from outside the tab (the REST API): the page learns of it only live."""
    response = httpx.post(f"{app.url}/api/alerts/{alert}/analyze", headers=app.bearer(), timeout=30)
    assert response.status_code == 202, response.text


def path_xs(d: str) -> list[float]:
    """The x of every point of an SVG path drawn with M and L commands (recharts' linear curve)."""
    return [float(x) for x in re.findall(r"[ML]\s*(-?[\d.]+)[ ,]", d)]


def chips(page: Page, selector: str) -> list[str]:
    return page.locator(f"{selector} .evidence-chip").all_inner_texts()


def test_an_analysis_arriving_live_shows_the_chart_evidence_and_hypotheses(evidence_app, fake, history_prom, new_tab):
    app, history = evidence_app, history_prom.history
    name = unique("VarFilling")
    # A neighbour on the same instance whose alertname (a label value) carries markup: it reaches the
    # related-alerts evidence as text.
    neighbour = f"IOWait{uuid.uuid4().hex[:8]}{SCRIPT}"
    post_alerts(
        app,
        notification(
            disk_alert(history_prom, name, annotations={"description": f"aws key {AWS_KEY} in the backup job"}),
            am_alert(neighbour, instance=history.disk.instance, job=history.disk.job),
        ),
    )
    the_alert, the_neighbour = alert_id(app, name), alert_id(app, neighbour[:14])
    hypotheses = [
        {"explanation": "A burst of logs", "confidence": 0.2, "supports": ["E3"], "contradicts": ["E1"]},
        {"explanation": "Steady growth of data on /var", "confidence": 0.75, "supports": ["E1", "E99"]},
        {"explanation": "A guess with nothing behind it", "confidence": 0.1, "supports": ["E99"]},
    ]
    cited = {**GOOD_ANALYSIS, "root_cause_evidence": ["E1", "E99"], "hypotheses": hypotheses, "inconclusive": False}
    answer_only(fake, name, lambda: reply_json(cited))

    tab = admin_tab(app, new_tab)
    page = open_alert(tab, app, the_alert)
    tab.mark()
    expect(page.locator("#analyze-button")).to_have_text("Analyze")
    expect(page.locator("#investigation")).to_have_count(0)
    analyze(app, the_alert)

    panel = page.locator("#investigation")
    expect(panel).to_be_visible(timeout=ANALYSIS_TIMEOUT_MS)
    expect(page.locator("#analysis-latest")).to_be_visible()
    assert tab.still_same_document(), "the page reloaded"

    # The chart: the compared value's one series, drawn through its ~100-200 stored points, the
    # alert's start marked near the right end (4 minutes before the last of 3 hours), the threshold.
    chart = page.locator("#metric-chart")
    expect(page.locator("#metric-chart-title")).to_have_text("The compared value (< 0.05 fires)")
    curve = chart.locator("svg.recharts-surface .recharts-line path.recharts-line-curve")
    expect(curve).to_have_count(1)
    xs = path_xs(curve.get_attribute("d") or "")
    assert len(xs) > 100, xs[:5]
    marker = chart.locator(".chart-marker line, line.chart-marker").first
    expect(marker).to_be_attached()
    at = float(marker.get_attribute("x1") or "nan")
    assert 0.9 < (at - xs[0]) / (xs[-1] - xs[0]) < 1.0, (at, xs[0], xs[-1])
    expect(chart.locator(".recharts-reference-line")).to_have_count(2)
    expect(chart).to_contain_text("alert start")
    expect(chart).to_contain_text("fires < 0.05")
    expect(chart.locator(".recharts-legend-wrapper")).to_contain_text('mountpoint="/var"')
    # The time axis in UTC on round half hours (three hours and a bit: 6 or 7 of them).
    ticks = chart.locator(".recharts-xAxis-tick-labels .recharts-cartesian-axis-tick-value").all_text_contents()
    assert 6 <= len(ticks) <= 8 and all(re.fullmatch(r"\d\d:(00|30)", tick) for tick in ticks), ticks

    # Each item: id, title, kind, query, window, datasource, duration, the text the model was given.
    items = page.locator(".evidence-item")
    expect(items).to_have_count(4)
    first = page.locator("#evidence-E1")
    expect(first.locator(".evidence-ref")).to_have_text("E1")
    expect(first.locator(".evidence-kind")).to_have_text("metric_value")
    expect(first.locator(".evidence-query")).to_have_text(DISK_VALUE)
    expect(first.locator(".evidence-window")).to_have_text(re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d to .* UTC$"))
    expect(first.locator(".evidence-datasource")).to_have_text("environment")
    expect(first.locator(".evidence-duration")).to_have_text(re.compile(r"^\d+ ms$"))
    expect(first.locator(".evidence-summary")).to_contain_text("crossed once")
    link = first.locator(".evidence-link")
    expect(link).to_have_text("Open in datasource")
    expect(link).to_have_attribute("target", "_blank")
    expect(link).to_have_attribute("rel", "noopener noreferrer")
    href = urlsplit(link.get_attribute("href") or "")
    assert (f"{href.scheme}://{href.netloc}", href.path) == (history_prom.url, "/graph")
    assert parse_qs(href.query)["g0.expr"] == [DISK_VALUE]
    expect(page.locator("#evidence-E2 .evidence-query")).to_have_text(DISK_EXPR)

    # Related alerts link to their pages; the hostile alertname is text, in the list and the summary.
    related = page.locator("#evidence-E3")
    expect(related.locator(".evidence-kind")).to_have_text("related_alerts")
    expect(related.locator(".related-alert-link")).to_have_text(neighbour)
    expect(related.locator(".related-alert-link")).to_have_attribute("href", f"/alerts/{the_neighbour}")
    expect(related.locator(".evidence-summary")).to_contain_text(neighbour)
    expect(page.locator("#evidence-E4 .evidence-kind")).to_have_text("history")

    # Hypotheses ranked by confidence, chips for their evidence; the made-up E99 appears nowhere.
    ranked = page.locator(".hypothesis")
    expect(ranked).to_have_count(3)
    expect(ranked.nth(0).locator(".hypothesis-explanation")).to_have_text("Steady growth of data on /var")
    expect(ranked.nth(0).locator(".hypothesis-confidence")).to_have_text("75%")
    assert chips(page, ".hypothesis:nth-child(1) .hypothesis-supports") == ["E1"]
    expect(ranked.nth(0).locator(".hypothesis-contradicts")).to_have_count(0)
    expect(ranked.nth(1).locator(".hypothesis-confidence")).to_have_text("20%")
    assert chips(page, ".hypothesis:nth-child(2) .hypothesis-supports") == ["E3"]
    assert chips(page, ".hypothesis:nth-child(2) .hypothesis-contradicts") == ["E1"]
    # A hypothesis whose only citation was made up is a claim without evidence: shown as such.
    expect(ranked.nth(2).locator(".unsupported")).to_have_text("unsupported: no evidence cited")
    expect(ranked.nth(0).locator(".unsupported")).to_have_count(0)
    assert chips(page, "#analysis-latest .root-cause-evidence") == ["E1"]
    expect(page.locator("#analysis-latest .unsupported")).to_have_count(0)
    expect(page.locator("#analysis-section")).not_to_contain_text("E99")
    expect(page.locator("#inconclusive")).to_have_count(0)

    # How the evidence was gathered, and what was redacted before the prompt left.
    expect(page.locator("#evidence-consulted")).to_have_text("Metrics were queried on the datasource 'environment'.")
    expect(page.locator("#evidence-redactions")).to_have_text(
        "1 secret redacted before the model saw the prompt (1 aws-key)."
    )
    request = next(r for r in fake.chat_requests if name in str(r.json))
    assert AWS_KEY not in str(request.json)

    # A chip scrolls to its item, in the same document.
    page.locator(".hypothesis:nth-child(2) .hypothesis-supports .evidence-chip-link").click()
    expect(page).to_have_url(re.compile(r"#evidence-E3$"))
    expect(related).to_be_in_viewport()
    assert tab.still_same_document(), "following a chip reloaded the page"
    assert_inert(page)


def test_an_inconclusive_answer_and_a_failed_query_are_shown_as_such(evidence_app, fake, history_prom, new_tab):
    """An expression the parser refuses: no chart, the item says what failed. The model says
    inconclusive and cites nothing: the root cause is shown as unsupported."""
    app = evidence_app
    name = unique("Refused")
    refused = disk_alert(history_prom, name, expr="node_filesystem_avail_bytes{", instance="db2:9100")
    post_alerts(app, notification(refused))
    the_alert = alert_id(app, name)
    unsure = {**GOOD_ANALYSIS, "root_cause": "Unclear.", "root_cause_evidence": [], "inconclusive": True}
    answer_only(fake, name, lambda: reply_json(unsure))
    tab = admin_tab(app, new_tab)
    page = open_alert(tab, app, the_alert)
    analyze(app, the_alert)

    expect(page.locator("#inconclusive")).to_contain_text("Inconclusive", timeout=ANALYSIS_TIMEOUT_MS)
    expect(page.locator("#analysis-latest .inconclusive-badge")).to_have_text("inconclusive")
    expect(page.locator("#analysis-latest .unsupported")).to_have_text("unsupported: no evidence cited")
    expect(page.locator("#analysis-latest .root-cause-evidence")).to_have_count(0)
    failed = page.locator("#evidence-E1")
    expect(failed.locator(".evidence-failed")).to_have_text("failed")
    expect(failed.locator(".evidence-error")).not_to_be_empty()
    expect(failed.locator(".evidence-link")).to_have_count(0)
    expect(page.locator("#metric-chart")).to_have_count(0)
    expect(page.locator("#hypotheses")).to_have_count(0)
    assert_inert(page)
