"""The tools an analysis offers a model that can call them: PromQL (instant and range), a search of
the alerts firing now by labels, and an alert's history. Each call that runs becomes an evidence item
(numbered after the deterministic ones) whose id the model may cite; a refused or failed call is a
ToolError, whose message goes back to the model.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from remediation_app.models import Alert, utcnow
from remediation_app.services.investigation import related
from remediation_app.services.investigation.evidence import Investigation, Item, metric_item, range_grid
from remediation_app.services.investigation.loop import ToolError, ToolOutcome, ToolSpec
from remediation_app.services.investigation.prometheus import (
    MAX_QUERY_CHARS,
    DatasourceError,
    PrometheusClient,
)
from remediation_app.services.investigation.promql import ExpressionError, check_query, graph_url
from remediation_app.services.investigation.summary import summarize_range
from remediation_app.services.text import storable_text

MAX_HOURS = 24.0
LABELS_MAX = 10


def _query_arg(args: dict[str, Any], *, range_query: bool) -> str:
    query = args.get("query")
    if not isinstance(query, str) or not query.strip():
        raise ToolError("`query` must be a non-empty PromQL string")
    try:
        return check_query(query, MAX_QUERY_CHARS, range_query=range_query)
    except ExpressionError as exc:
        raise ToolError(str(exc)) from None


def _number(args: dict[str, Any], name: str, default: float, low: float, high: float) -> float:
    value = args.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ToolError(f"`{name}` must be a number")
    if not low <= float(value) <= high:
        raise ToolError(f"`{name}` must be between {low:g} and {high:g}")
    return float(value)


class Toolbox:
    """The tools for one analysis, recording each call's evidence in `investigation`."""

    def __init__(
        self,
        investigation: Investigation,
        alert: Alert,
        client: PrometheusClient | None,
        *,
        store: related.AlertStore = related.database_store,
    ) -> None:
        self.investigation = investigation
        self.alert = alert
        self.client = client
        self.store = store  # related alerts and history: the database, or an evaluation case's

    def specs(self) -> list[ToolSpec]:
        tools = [
            ToolSpec(
                "search_alerts",
                "Alerts firing now whose labels equal the given ones (any or all of them).",
                {
                    "type": "object",
                    "properties": {
                        "labels": {
                            "type": "object",
                            "additionalProperties": {"type": "string"},
                            "description": 'label name to exact value, e.g. {"instance": "db1:9100"}',
                        },
                        "match": {"type": "string", "enum": ["any", "all"], "description": "default any"},
                    },
                    "required": ["labels"],
                },
                self._search_alerts,
            ),
            ToolSpec(
                "alert_history",
                "Earlier occurrences of an alert on an instance: how many, when, how long, whether it flaps.",
                {
                    "type": "object",
                    "properties": {"alertname": {"type": "string"}, "instance": {"type": "string"}},
                    "required": ["alertname", "instance"],
                },
                self._alert_history,
            ),
        ]
        if self.client is not None:
            tools[:0] = [
                ToolSpec(
                    "promql_instant",
                    "Evaluate a PromQL expression now (or `minutes_ago` minutes ago) on the alert's datasource.",
                    {
                        "type": "object",
                        "properties": {
                            "query": {"type": "string", "description": f"PromQL, at most {MAX_QUERY_CHARS} chars"},
                            "minutes_ago": {"type": "number", "minimum": 0, "maximum": MAX_HOURS * 60},
                        },
                        "required": ["query"],
                    },
                    self._instant,
                ),
                ToolSpec(
                    "promql_range",
                    "Evaluate a PromQL expression over the last `hours` hours (at most 24), summarized per "
                    "series (first, min, max, last, trend).",
                    {
                        "type": "object",
                        "properties": {
                            "query": {"type": "string", "description": f"PromQL, at most {MAX_QUERY_CHARS} chars"},
                            "hours": {"type": "number", "minimum": 0.1, "maximum": MAX_HOURS},
                            "step_seconds": {"type": "number", "minimum": 1},
                        },
                        "required": ["query"],
                    },
                    self._range,
                ),
            ]
        return tools

    async def _record(self, item: Item, work: Callable[[Item], Awaitable[None]]) -> ToolOutcome:
        started = time.perf_counter()
        try:
            await work(item)
        except DatasourceError as exc:
            item.error = str(exc)
        item.duration_ms = int((time.perf_counter() - started) * 1000)
        self.investigation.add(item)
        if item.error:
            raise ToolError(f"{item.error} (recorded as evidence {item.ref})")
        return ToolOutcome(text=item.prompt_text(), evidence_id=item.ref)

    def _datasource_item(self, kind: str, title: str, query: str, start: datetime, end: datetime) -> Item:
        source = self.investigation.datasource
        assert source is not None
        try:
            link = graph_url(source.url, query, start, end)
        except ExpressionError:
            link = ""
        return Item(
            kind=kind, title=title, datasource=source.name, query=query, window_start=start, window_end=end, link=link
        )

    async def _instant(self, args: dict[str, Any]) -> ToolOutcome:
        assert self.client is not None
        client = self.client
        query = _query_arg(args, range_query=False)
        at = utcnow() - timedelta(minutes=_number(args, "minutes_ago", 0, 0, MAX_HOURS * 60))
        item = self._datasource_item("tool_instant", "PromQL (instant) asked by the model", query, at, at)

        async def run(item: Item) -> None:
            result = await client.instant(query, at)
            summary = await asyncio.to_thread(summarize_range, result.series, dropped=result.dropped_series)
            item.summary = summary.text

        return await self._record(item, run)

    async def _range(self, args: dict[str, Any]) -> ToolOutcome:
        assert self.client is not None
        client = self.client
        query = _query_arg(args, range_query=True)
        hours = _number(args, "hours", 3, 0.1, MAX_HOURS)
        step = args.get("step_seconds")
        step_s = _number(args, "step_seconds", 60, 1, 86400) if step is not None else None
        end = utcnow()
        start = end - timedelta(hours=hours)
        item = self._datasource_item("tool_range", "PromQL (range) asked by the model", query, start, end)
        marker = self.alert.starts_at.timestamp()

        async def run(item: Item) -> None:
            first, step = (start, step_s) if step_s is not None else range_grid(client, start, end)
            result = await client.range(query, first, end, step)
            await asyncio.to_thread(metric_item, item.kind, item.title, result, item, start_marker=marker)

        return await self._record(item, run)

    async def _search_alerts(self, args: dict[str, Any]) -> ToolOutcome:
        labels = args.get("labels")
        if not isinstance(labels, dict) or not labels:
            raise ToolError('`labels` must be an object of label names to values, e.g. {"job": "api"}')
        if len(labels) > LABELS_MAX or not all(isinstance(v, str | int | float) for v in labels.values()):
            raise ToolError(f"`labels`: at most {LABELS_MAX} names, each with a string value")
        match = args.get("match", "any")
        if match not in ("any", "all"):
            raise ToolError("`match` is any or all")
        # JSON escapes can carry NUL and lone surrogates: neither a query nor the provider takes them.
        wanted = {storable_text(str(k)): storable_text(str(v)) for k, v in labels.items()}
        item = Item(kind="tool_alerts", title="Alerts firing now, searched by the model")
        item.query = ", ".join(f'{k}="{v[:200]}"' for k, v in wanted.items())[:2000]

        async def run(item: Item) -> None:
            async with self.store() as reader:
                found = await reader.related(wanted, exclude_id=self.alert.id, any_of=match == "any")
            item.summary, item.data = found.text, {"alerts": found.alerts}

        return await self._record(item, run)

    async def _alert_history(self, args: dict[str, Any]) -> ToolOutcome:
        alertname, instance = args.get("alertname"), args.get("instance")
        if not isinstance(alertname, str) or not alertname or not isinstance(instance, str):
            raise ToolError("`alertname` and `instance` must be strings")
        alertname, instance = storable_text(alertname), storable_text(instance)
        item = Item(kind="tool_history", title="Alert history, asked by the model")
        item.query = f'alertname="{alertname[:200]}", instance="{instance[:200]}"'

        async def run(item: Item) -> None:
            async with self.store() as reader:
                found = await reader.history(alertname, instance, exclude_id=self.alert.id)
            item.summary = found.text
            item.data = {"occurrences": found.occurrences[:20], "flapping": found.flapping}

        return await self._record(item, run)
