"""A case replayed: the investigation's sources answer from the case, never from live systems.

- The datasource is a `PrometheusClient` whose HTTP exchange is replaced by the case: its answers
  are Prometheus API bodies (vectors, matrices) and go through the client's own decoding and limits.
  A query the case knows (its `queries`, by the parser's spelling, or a plain selector over its raw
  `metrics`) answers with its series; any other query answers an empty result: no data.
- The alert store (related alerts, history) answers from the case's lists, with the text the
  database's answers have (investigation/related.py).
- The diagnostics people ran are the case's command outputs.

The case's clock is anchored at `now`: "-25m" is 25 minutes before the replay started.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import math
import re
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

import promql_parser

from remediation_app.models import Alert, RuleAction
from remediation_app.services.evals.cases import Case, normalized_query
from remediation_app.services.evals.series import SeriesSpec, answered
from remediation_app.services.investigation.evidence import Investigation, Item
from remediation_app.services.investigation.prometheus import DatasourceConfig, PrometheusClient
from remediation_app.services.investigation.promql import ExpressionError, analyse_expression
from remediation_app.services.investigation.related import (
    HISTORY_MAX,
    AlertReader,
    History,
    RelatedAlerts,
    describe_history,
    match_related,
)
from remediation_app.services.investigation.run import Sources

# The replayed datasource: never contacted (its exchange is the case), named like a real one.
DATASOURCE = DatasourceConfig(name="prometheus", url="http://prometheus.replay.invalid:9090")
MAX_POINTS_ANSWERED = 11_000  # Prometheus' own cap on points per series of a range query


def _sample_text(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def _matches(labels: dict[str, str], matcher: Any) -> bool:
    value, op, wanted = labels.get(matcher.name, ""), str(matcher.op).rsplit(".", 1)[-1], str(matcher.value)
    if op == "Equal":
        return value == wanted
    if op == "NotEqual":
        return value != wanted
    try:
        found = re.fullmatch(wanted, value) is not None
    except re.error:
        return False
    return found if op == "Re" else not found


_COMPARE: dict[str, Callable[..., bool]] = {
    ">": lambda v, threshold: v > threshold,
    "<": lambda v, threshold: v < threshold,
    ">=": lambda v, threshold: v >= threshold,
    "<=": lambda v, threshold: v <= threshold,
    "==": lambda v, threshold: v == threshold,
    "!=": lambda v, threshold: v != threshold,
}
# A series that answers a query, and the comparison filtering its values (None: all of them).
Answering = tuple[SeriesSpec, Callable[[float], bool] | None]


def _labels(spec: SeriesSpec, keep: Callable[[float], bool] | None) -> dict[str, str]:
    """A series' labels as answered: a comparison drops the metric name, as Prometheus does."""
    return {k: v for k, v in spec.labels.items() if keep is None or k != "__name__"}


class CaseReplay:
    """One case's evidence at one moment (`now`)."""

    def __init__(self, case: Case, now: datetime) -> None:
        self.case = case
        self.now = now
        self.now_unix = now.timestamp()
        self.fixtures: dict[str, list[SeriesSpec]] = {}
        for fixture in case.queries:
            for key in (fixture.query, *fixture.also):
                self.fixtures[key] = fixture.series
        self.asked: list[str] = []  # every query the datasource was asked, normalized

    # --- the alert ---------------------------------------------------------------------------

    def alert(self) -> Alert:
        """The case's alert as the webhook would have stored it (not stored: no id)."""
        payload = self.case.notification(self.now)
        alert = payload.alerts[self.case.alert_index]
        labels = alert.labels
        return Alert(
            fingerprint=alert.key_fingerprint(),
            starts_at=alert.starts_at,
            ends_at=alert.ends_at,
            status=alert.status,
            alertname=labels.get("alertname", ""),
            severity=labels.get("severity", "").lower(),
            instance=labels.get("instance", ""),
            job=labels.get("job", ""),
            summary=alert.annotations.get("summary") or alert.annotations.get("description") or "",
            labels=labels,
            annotations=alert.annotations,
            generator_url=alert.generator_url,
            group_key=payload.group_key,
            receiver=payload.receiver,
            external_url=payload.external_url,
            first_received_at=self.now,
            last_received_at=self.now,
            times_notified=1,
            action=RuleAction.AUTO_ANALYZE.value,
        )

    # --- the datasource ----------------------------------------------------------------------

    def series_for(self, query: str) -> list[Answering]:
        """The series that answer `query`, each with the filter a comparison applies (None: every
        value): a fixture's, a plain selector's over the raw metrics, `X op number` over what answers
        X (as Prometheus filters a comparison, the metric name dropped), or none."""
        try:
            key = normalized_query(query)
        except ExpressionError:
            return []
        self.asked.append(key)
        return self._resolve(key, nested=False)

    def _resolve(self, key: str, *, nested: bool) -> list[Answering]:
        if key in self.fixtures:
            return [(spec, None) for spec in self.fixtures[key]]
        tree = promql_parser.parse(key)
        if isinstance(tree, promql_parser.VectorSelector):
            if tree.offset is not None or tree.at is not None:
                return []
            matchers: list[Any] = list(tree.matchers.matchers)
            if tree.name:
                matchers.append(SimpleNamespace(name="__name__", op="Equal", value=tree.name))
            return [(spec, None) for spec in self.case.metrics if all(_matches(spec.labels, m) for m in matchers)]
        if nested:
            return []
        try:
            expression = analyse_expression(key)
        except ExpressionError:
            return []
        if len(expression.conditions) != 1 or expression.value_expr == expression.text:
            return []
        condition = expression.conditions[0]
        if condition.threshold is None or condition.returns_bool:
            return []
        keep = functools.partial(_COMPARE[condition.op], threshold=condition.threshold)
        return [(spec, keep) for spec, _ in self._resolve(expression.value_expr, nested=True)]

    def answer(self, path: str, params: dict[str, str]) -> tuple[int, bytes]:
        """The datasource's HTTP answer (status, body) to a request of the Prometheus API."""
        if not path.endswith(("api/v1/query_range", "api/v1/query")):
            return 404, b"404 page not found"
        try:
            query = params["query"]
            if path.endswith("api/v1/query_range"):
                start, end, step = float(params["start"]), float(params["end"]), float(params["step"])
                data = self._matrix(query, start, end, step)
            else:
                data = self._vector(query, float(params.get("time") or self.now_unix))
        except (KeyError, ValueError):
            body = {"status": "error", "errorType": "bad_data", "error": "invalid parameters"}
            return 400, json.dumps(body).encode()
        return 200, json.dumps({"status": "success", "data": data}).encode()

    def _vector(self, query: str, at: float) -> dict[str, Any]:
        result = []
        for spec, keep in self.series_for(query):
            value = answered(spec, at - self.now_unix, self.now_unix)
            if value is not None and (keep is None or keep(value)):
                result.append({"metric": _labels(spec, keep), "value": [at, _sample_text(value)]})
        return {"resultType": "vector", "result": result}

    def _matrix(self, query: str, start: float, end: float, step: float) -> dict[str, Any]:
        if not step > 0 or end < start or (end - start) / step > MAX_POINTS_ANSWERED:
            raise ValueError("bad range")
        count = int((end - start) // step) + 1
        times = [start + i * step for i in range(count)]
        result = []
        for spec, keep in self.series_for(query):
            values = []
            for t in times:
                value = answered(spec, t - self.now_unix, self.now_unix)
                if value is not None and (keep is None or keep(value)):
                    values.append([round(t, 3), _sample_text(value)])
            if values:
                result.append({"metric": _labels(spec, keep), "values": values})
        return {"resultType": "matrix", "result": result}

    def open_client(self, config: DatasourceConfig) -> PrometheusClient:
        return ReplayClient(config, self)

    async def datasource(self, _alert: Alert) -> tuple[DatasourceConfig | None, str]:
        return DATASOURCE, ""

    # --- the alert store and the diagnostics ----------------------------------------------------

    def _related_rows(self) -> list[Any]:
        rows = [
            SimpleNamespace(
                id=index + 1_000_000,
                alertname=item.alertname,
                severity=item.severity,
                starts_at=self.now + timedelta(seconds=item.starts_at),
                labels={"alertname": item.alertname, **item.labels},
                summary=item.summary,
            )
            for index, item in enumerate(self.case.related_alerts)
        ]
        return sorted(rows, key=lambda row: row.starts_at, reverse=True)

    def _history_rows(self, alertname: str, instance: str, before: datetime | None) -> list[Any]:
        alert = self.alert()
        if (alertname, instance) != (alert.alertname, alert.instance):
            return []
        rows = []
        for index, item in enumerate(self.case.history):
            starts = self.now + timedelta(seconds=item.starts_at)
            ends = self.now + timedelta(seconds=item.ends_at) if item.ends_at is not None else None
            if before is None or starts <= before:
                status = "resolved" if ends is not None else "firing"
                rows.append(SimpleNamespace(id=index + 2_000_000, starts_at=starts, ends_at=ends, status=status))
        return sorted(rows, key=lambda row: row.starts_at, reverse=True)[:HISTORY_MAX]

    @contextlib.asynccontextmanager
    async def store(self) -> AsyncIterator[AlertReader]:
        yield _CaseReader(self)

    async def results(self, investigation: Investigation, _alert: Alert) -> None:
        for number, item in enumerate(self.case.diagnostics, 1):
            lines = [f"Proposal #{number}: `{item.command}` on {item.server}, approved by sre"]
            lines.append(f"exit status: {item.exit_status if item.exit_status is not None else 'none (stopped)'}")
            lines.append("stdout:\n" + (item.stdout or "(empty)"))
            if item.stderr:
                lines.append("stderr:\n" + item.stderr)
            investigation.add(
                Item(
                    kind="diagnostic",
                    title=f"Command run on {item.server}: {item.command}"[:255],
                    datasource=item.server[:100],
                    query=item.command,
                    summary="\n".join(lines),
                    data={"status": "done", "exit_status": item.exit_status},
                )
            )

    def sources(self) -> Sources:
        return Sources(datasource=self.datasource, open_client=self.open_client, store=self.store, results=self.results)


class _CaseReader:
    def __init__(self, replay: CaseReplay) -> None:
        self.replay = replay

    async def related(
        self, where: dict[str, str], *, exclude_id: int | None = None, any_of: bool = True
    ) -> RelatedAlerts:
        wanted = {str(k)[:200]: str(v)[:1000] for k, v in where.items() if v}
        if not wanted:
            return RelatedAlerts(text="No labels to match on.")
        return match_related(self.replay._related_rows(), wanted, exclude_id=exclude_id, any_of=any_of)

    async def history(
        self, alertname: str, instance: str, *, before: datetime | None = None, exclude_id: int | None = None
    ) -> History:
        rows = self.replay._history_rows(alertname, instance, before)
        return describe_history(rows, alertname, instance, before=before)


class ReplayClient(PrometheusClient):
    """The Prometheus client with the case in place of HTTP: the same requests, limits and decoding."""

    def __init__(self, config: DatasourceConfig, replay: CaseReplay) -> None:
        super().__init__(config)
        self.replay = replay

    async def _fetch_params(self, method: str, path: str, params: dict[str, str]) -> tuple[int, bytes]:
        # Up to 500 points of each series evaluated: off the event loop, like a large answer's parsing.
        return await asyncio.to_thread(self.replay.answer, path, params)
