"""One analysis as an investigation: gather the evidence, redact, let the model call tools (when it
can) or answer in one call, and parse its answer against the evidence it may cite."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from remediation_app.crypto import DecryptionError
from remediation_app.db import async_session
from remediation_app.models import Alert
from remediation_app.services.diagnostics import results as diagnostic_results
from remediation_app.services.diagnostics.proposals import Origin
from remediation_app.services.diagnostics.tools import propose_tool
from remediation_app.services.investigation import datasources, related
from remediation_app.services.investigation.evidence import Investigation, gather
from remediation_app.services.investigation.loop import LoopLimits, run_tool_loop
from remediation_app.services.investigation.prometheus import DatasourceConfig, DatasourceError, PrometheusClient
from remediation_app.services.investigation.redaction import Redactor
from remediation_app.services.investigation.tools import Toolbox
from remediation_app.services.llm.analysis import Parsed, build_messages, parse_analysis
from remediation_app.services.llm.client import complete, supports_tools
from remediation_app.services.llm.config import ProviderConfig
from remediation_app.services.memory import evidence as memory_evidence
from remediation_app.settings import get_settings

log = logging.getLogger(__name__)
# Above this many characters a prompt is redacted in a worker thread (the scan is linear, ~1 s a MB).
REDACT_IN_THREAD = 32_000


@dataclass
class Outcome:
    """What the worker stores: the model's answer parsed, its cost, and how it was investigated."""

    parsed: Parsed
    text: str
    prompt_tokens: int | None
    completion_tokens: int | None
    cost_usd: float | None
    latency_ms: int
    investigation: Investigation
    details: dict[str, Any] = field(default_factory=dict)


async def _datasource(alert: Alert) -> tuple[DatasourceConfig | None, str]:
    try:
        async with async_session() as session:
            return await datasources.for_alert(session, alert.generator_url), ""
    except DecryptionError as exc:
        return None, str(exc)


async def _recent_results(investigation: Investigation, alert: Alert) -> None:
    await diagnostic_results.add_results(investigation, alert.id)  # what people approved or rejected since
    await memory_evidence.add_similar(investigation, alert)  # past incidents like it, with their fixes


@dataclass(frozen=True)
class Sources:
    """Where an investigation reads. The live systems by default: the datasource matched to the alert
    in the database and its HTTP API, the alert store, the diagnostics people ran. An evaluation
    replays a case's recorded evidence instead (services/evals/replay.py)."""

    datasource: Callable[[Alert], Awaitable[tuple[DatasourceConfig | None, str]]] = _datasource
    open_client: Callable[[DatasourceConfig], PrometheusClient] = PrometheusClient
    store: related.AlertStore = related.database_store
    results: Callable[[Investigation, Alert], Awaitable[None]] = _recent_results


LIVE = Sources()


async def _redacted(redactor: Redactor, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    size = sum(len(str(m.get("content") or "")) for m in messages)
    if size > REDACT_IN_THREAD:
        return await asyncio.to_thread(redactor.redact_messages, messages)
    return redactor.redact_messages(messages)


async def investigate(
    alert: Alert,
    provider: ProviderConfig,
    *,
    incident: dict[str, Any] | None = None,
    job_id: int | None = None,
    sources: Sources = LIVE,
) -> Outcome:
    """Run one analysis. Raises LLMError (the queue retries or fails the job); a datasource's faults
    are evidence, never errors. `incident`: a group analysis (storm control) of the incident `alert`
    represents (its alerts as data, see llm/incident_prompt.py). `job_id`: the job it runs for (the
    commands it proposes name it, services/diagnostics). `sources`: where it reads (see Sources)."""
    settings = get_settings()
    source, source_error = await sources.datasource(alert)
    investigation = await gather(
        alert, source, datasource_error=source_error, open_client=sources.open_client, store=sources.store
    )
    await sources.results(investigation, alert)
    messages = build_messages(
        alert, evidence=investigation.prompt_text(), consulted=investigation.consulted, incident=incident
    )
    redactor = None if provider.local else Redactor()
    if redactor is not None:
        messages = await _redacted(redactor, messages)
    details: dict[str, Any] = {
        "datasource": source.name if source else None,
        "consulted": investigation.consulted,
        "redacted": not provider.local,
    }
    if incident is not None:
        details["incident"] = {"alerts_listed": len(incident["alerts"]), "not_listed": incident["alerts_not_listed"]}
    if supports_tools(provider):
        limits = LoopLimits(
            max_steps=settings.investigation_tool_steps,
            wall_s=settings.investigation_wall_seconds,
            max_tokens=settings.investigation_max_tokens,
            max_cost_usd=settings.investigation_max_cost_usd,
        )
        async with contextlib.AsyncExitStack() as stack:
            client = None
            if source is not None:
                with contextlib.suppress(DatasourceError):
                    client = await stack.enter_async_context(sources.open_client(source))
            toolbox = Toolbox(investigation, alert, client, store=sources.store)
            specs = toolbox.specs()
            proposer = await propose_tool(alert.id, Origin("analysis", job_id=job_id)) if alert.id else None
            if proposer is not None:
                specs.append(proposer.spec())
            protect = redactor.redact if redactor is not None else None
            result = await run_tool_loop(provider, messages, specs, limits, protect=protect)
        details.update(tool_calls=result.calls[:30], steps=result.steps, stopped=result.stopped, tools=True)
        if proposer is not None and proposer.stored:
            details["proposals"] = proposer.stored
        text, prompt, completion, cost, latency = (
            result.text,
            result.prompt_tokens,
            result.completion_tokens,
            result.cost_usd,
            result.latency_ms,
        )
    else:
        answer = await complete(provider, messages, json_mode=True)
        details.update(tools=False)
        text, prompt, completion, cost, latency = (
            answer.text,
            answer.prompt_tokens,
            answer.completion_tokens,
            answer.cost_usd,
            answer.latency_ms,
        )
    if redactor is not None:
        details["redactions"] = dict(redactor.counts)
    parsed = parse_analysis(text, investigation.refs)
    return Outcome(parsed, text, prompt, completion, cost, latency, investigation, details)
