"""Evidence gathered before the first model call: deterministic, bounded, every piece an `Item`.

For one alert, at once and within INVESTIGATION_BUDGET_SECONDS in all:
- the alert's expression (from its generatorURL's `g0.expr`) over a window from well before the
  alert's start to now, and, for a threshold alert, the compared side too (its values, not 0/1);
- the other alerts firing now that share the alert's instance, job, namespace, service or pod;
- the alert's history: earlier occurrences of its alertname on its instance.
A query that fails (datasource down, slow, 401, refused expression) becomes an item that says what
failed: the analysis goes on. Items are numbered E1, E2, ... in a fixed order, so the model can cite
them and the parser can check its citations.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from remediation_app.models import Alert, Evidence, utcnow
from remediation_app.services.investigation import related
from remediation_app.services.investigation.prometheus import (
    DatasourceConfig,
    DatasourceError,
    PrometheusClient,
    QueryResult,
)
from remediation_app.services.investigation.promql import (
    AlertExpression,
    ExpressionError,
    analyse_expression,
    expression_from_generator_url,
    graph_url,
)
from remediation_app.services.investigation.summary import chart_points, summarize_range
from remediation_app.services.records import columns
from remediation_app.services.text import storable_text
from remediation_app.settings import get_settings

CHART_SERIES = 5  # series kept for the chart
CHART_POINTS = 200
SUMMARY_MAX = 6000  # characters of one item's text in the prompt
MAX_WINDOW = timedelta(hours=24)


@dataclass
class Item:
    """One piece of evidence, as stored (models.Evidence) and as given to the model (`prompt_text`)."""

    kind: str
    title: str
    summary: str = ""
    ref: str = ""
    datasource: str = ""
    query: str = ""
    window_start: datetime | None = None
    window_end: datetime | None = None
    data: dict[str, Any] = field(default_factory=dict)
    link: str = ""
    duration_ms: int = 0
    error: str = ""

    def prompt_text(self) -> str:
        head = f"[{self.ref}] {self.title}"
        if self.datasource:
            head += f" (datasource {self.datasource})"
        lines = [head]
        if self.query:
            lines.append(f"query: {self.query}")
        if self.window_start and self.window_end:
            lines.append(f"window: {_iso(self.window_start)} to {_iso(self.window_end)}")
        lines.append(f"FAILED: {self.error}" if self.error else self.summary)
        text = "\n".join(lines)
        return text if len(text) <= SUMMARY_MAX else text[:SUMMARY_MAX] + " …[cut]"

    @classmethod
    def from_row(cls, row: Evidence) -> Item:
        shown = ("kind", "title", "summary", "ref", "datasource", "query", "window_start", "window_end", "error")
        return cls(**columns(row, *shown))

    def row(self, analysis_id: int) -> Evidence:
        # Text from a datasource or a model may hold what PostgreSQL refuses (NUL): one bad
        # character must not lose the analysis.
        return Evidence(
            analysis_id=analysis_id,
            ref=self.ref,
            kind=self.kind,
            title=storable_text(self.title[:255]),
            datasource=storable_text(self.datasource[:100]),
            query=storable_text(self.query),
            window_start=self.window_start,
            window_end=self.window_end,
            summary=storable_text(self.summary),
            data=self.data,
            link=storable_text(self.link),
            duration_ms=self.duration_ms,
            error=storable_text(self.error),
            created_at=utcnow(),
        )


@dataclass
class Investigation:
    """What the engine found before the model was asked, and what the model asked for after."""

    items: list[Item] = field(default_factory=list)
    datasource: DatasourceConfig | None = None
    consulted: str = ""  # one line for the prompt: which datasource, or why none
    expression: AlertExpression | None = None

    def add(self, item: Item) -> Item:
        item.ref = f"E{len(self.items) + 1}"
        self.items.append(item)
        return item

    @property
    def refs(self) -> frozenset[str]:
        return frozenset(item.ref for item in self.items)

    def prompt_text(self) -> str:
        return "\n\n".join(item.prompt_text() for item in self.items)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def window_of(alert: Alert, now: datetime | None = None) -> tuple[datetime, datetime]:
    """From INVESTIGATION_WINDOW_HOURS before the alert's start to now (or its end), at most 24 h."""
    end = now or utcnow()
    if alert.ends_at is not None and alert.ends_at < end and alert.status == "resolved":
        end = min(end, alert.ends_at + timedelta(minutes=30))
    start = alert.starts_at - timedelta(hours=get_settings().investigation_window_hours)
    start = max(start, end - MAX_WINDOW)
    if start >= end:
        start = end - timedelta(hours=1)
    return start, end


def range_grid(client: PrometheusClient, start: datetime, end: datetime) -> tuple[datetime, float]:
    """The start and step of a range query whose last evaluation is at `end` itself. Prometheus
    evaluates at start, start + step, ... up to end: an unaligned window leaves out up to a step of
    the newest data (a series that began seconds ago, the crossing that just fired the alert)."""
    span = (end - start).total_seconds()
    step = float(max(1, math.ceil(span / max(1, client.limits.points - 1))))
    return end - timedelta(seconds=step * math.floor(span / step)), step


async def _timed(item: Item, work: Callable[[Item], Awaitable[None]]) -> Item:
    started = time.perf_counter()
    try:
        await work(item)
    except DatasourceError as exc:
        item.error = str(exc)
    except TimeoutError:
        item.error = "not finished within the investigation's time budget"
    item.duration_ms = int((time.perf_counter() - started) * 1000)
    return item


def metric_item(
    kind: str,
    title: str,
    result: QueryResult,
    item: Item,
    *,
    threshold: float | None = None,
    op: str | None = None,
    start_marker: float | None = None,
) -> None:
    """Fill `item` from a range result: the compact text for the model, thinned points for the chart."""
    summary = summarize_range(
        result.series, threshold=threshold, op=op, start_marker=start_marker, dropped=result.dropped_series
    )
    notes = [w for w in result.warnings[:3]]
    item.summary = summary.text + ("\n" + "\n".join(f"warning: {w}" for w in notes) if notes else "")
    chosen = [result.series[i] for i in summary.shown[:CHART_SERIES]]
    item.data = {
        "series": [{"labels": s.labels, "points": chart_points(s.points, CHART_POINTS)} for s in chosen],
        "threshold": threshold,
        "op": op,
        "start": start_marker,
        "step_s": result.step_s,
        "total_series": len(result.series) + result.dropped_series,
    }


async def _metrics(investigation: Investigation, alert: Alert, client: PrometheusClient) -> list[Item]:
    source = investigation.datasource
    assert source is not None
    start, end = window_of(alert)
    marker = alert.starts_at.timestamp()
    try:
        expr_text = expression_from_generator_url(alert.generator_url) if alert.generator_url else None
        if expr_text is None:
            return [
                Item(
                    kind="metric",
                    title="The alert's expression",
                    datasource=source.name,
                    error="the alert's generatorURL carries no expression (g0.expr): no metric was queried",
                )
            ]
        expression = analyse_expression(expr_text)
    except ExpressionError as exc:
        return [Item(kind="metric", title="The alert's expression", datasource=source.name, error=str(exc))]
    investigation.expression = expression
    queries = [("metric", "The alert's expression over the window", expression.text)]
    if expression.is_threshold and expression.value_expr != expression.text:
        title = f"The compared value ({expression.op} {expression.threshold:g} fires)"
        queries.insert(0, ("metric_value", title, expression.value_expr))
    items = [
        Item(
            kind=kind,
            title=title,
            datasource=source.name,
            query=query,
            window_start=start,
            window_end=end,
            link=_link(source, query, start, end),
        )
        for kind, title, query in queries
    ]

    async def run(item: Item) -> None:
        first, step = range_grid(client, start, end)
        result = await client.range(item.query, first, end, step)
        threshold = expression.threshold if item.kind == "metric_value" else None
        op = expression.op if item.kind == "metric_value" else None
        # Summaries are linear in points (at most 20 series of 500): cheap, but off the loop anyway.
        await asyncio.to_thread(
            metric_item, item.kind, item.title, result, item, threshold=threshold, op=op, start_marker=marker
        )

    return list(await asyncio.gather(*(_timed(item, run) for item in items)))


def _link(source: DatasourceConfig, query: str, start: datetime, end: datetime) -> str:
    try:
        return graph_url(source.url, query, start, end)
    except ExpressionError:
        return ""


async def _store_items(alert: Alert, store: related.AlertStore) -> list[Item]:
    place = related.place_of(alert)
    related_item = Item(kind="related_alerts", title="Other alerts firing now at the same place")
    history_item = Item(kind="history", title="Earlier occurrences of this alert")

    async with store() as reader:  # one session for both: opening one costs more than a query

        async def find_related(item: Item) -> None:
            found = await reader.related(place, exclude_id=alert.id)
            item.summary, item.data = found.text, {"alerts": found.alerts}

        async def find_history(item: Item) -> None:
            found = await reader.history(alert.alertname, alert.instance, before=alert.starts_at, exclude_id=alert.id)
            item.summary = found.text
            item.data = {"occurrences": found.occurrences[:20], "flapping": found.flapping}

        # One after the other: a session is not for concurrent use.
        return [await _timed(related_item, find_related), await _timed(history_item, find_history)]


async def gather(
    alert: Alert,
    datasource: DatasourceConfig | None,
    *,
    datasource_error: str = "",
    open_client: Callable[[DatasourceConfig], PrometheusClient] = PrometheusClient,
    store: related.AlertStore = related.database_store,
) -> Investigation:
    """The deterministic evidence for `alert`, within INVESTIGATION_BUDGET_SECONDS (what is not done
    by then is an item saying so). Never raises for a datasource's or an expression's fault.
    `open_client` and `store` are where it reads: the live datasource and database by default, a
    case's recorded evidence in an evaluation (services/evals/replay.py)."""
    investigation = Investigation(datasource=datasource)
    budget = get_settings().investigation_budget_seconds
    if datasource is None:
        investigation.consulted = (
            f"No metrics were consulted: {datasource_error}"
            if datasource_error
            else "No metrics were consulted: no Prometheus-compatible datasource is configured."
        )
    else:
        investigation.consulted = f"Metrics were queried on the datasource {datasource.name!r}."
    metric_items: list[Item] = []
    store_items: list[Item] = []

    async def metrics() -> None:
        if datasource is None:
            return
        async with open_client(datasource) as client:
            metric_items.extend(await _metrics(investigation, alert, client))

    async def from_store() -> None:
        store_items.extend(await _store_items(alert, store))

    tasks = [asyncio.create_task(metrics()), asyncio.create_task(from_store())]
    done, pending = await asyncio.wait(tasks, timeout=budget)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    for task in done:
        if task.exception() is not None and not isinstance(task.exception(), DatasourceError):
            raise task.exception()  # type: ignore[misc]  # a bug or a database fault: the job retries
        if isinstance(task.exception(), DatasourceError):
            metric_items.append(Item(kind="metric", title="The alert's expression", error=str(task.exception())))
    if datasource is not None and tasks[0] in pending and not metric_items:
        metric_items.append(
            Item(
                kind="metric",
                title="The alert's expression",
                datasource=datasource.name,
                error=f"the datasource did not answer within the investigation's {budget:g} s budget",
            )
        )
    if tasks[1] in pending:
        store_items.append(
            Item(kind="related_alerts", title="Related alerts and history", error="the store did not answer in time")
        )
    for item in [*metric_items, *store_items]:
        investigation.add(item)
    return investigation
