"""One analysis as an investigation: gather the evidence, redact, let the model call tools (when it
can) or answer in one call, and parse its answer against the evidence it may cite."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

from remediation_app.crypto import DecryptionError
from remediation_app.db import async_session
from remediation_app.models import Alert
from remediation_app.services.investigation import datasources
from remediation_app.services.investigation.evidence import Investigation, gather
from remediation_app.services.investigation.loop import LoopLimits, run_tool_loop
from remediation_app.services.investigation.prometheus import DatasourceConfig, DatasourceError, PrometheusClient
from remediation_app.services.investigation.redaction import Redactor
from remediation_app.services.investigation.tools import Toolbox
from remediation_app.services.llm.analysis import Parsed, build_messages, parse_analysis
from remediation_app.services.llm.client import complete, supports_tools
from remediation_app.services.llm.config import ProviderConfig
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


async def _redacted(redactor: Redactor, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    size = sum(len(str(m.get("content") or "")) for m in messages)
    if size > REDACT_IN_THREAD:
        return await asyncio.to_thread(redactor.redact_messages, messages)
    return redactor.redact_messages(messages)


async def investigate(alert: Alert, provider: ProviderConfig) -> Outcome:
    """Run one analysis. Raises LLMError (the queue retries or fails the job); a datasource's faults
    are evidence, never errors."""
    settings = get_settings()
    source, source_error = await _datasource(alert)
    investigation = await gather(alert, source, datasource_error=source_error)
    messages = build_messages(alert, evidence=investigation.prompt_text(), consulted=investigation.consulted)
    redactor = None if provider.local else Redactor()
    if redactor is not None:
        messages = await _redacted(redactor, messages)
    details: dict[str, Any] = {
        "datasource": source.name if source else None,
        "consulted": investigation.consulted,
        "redacted": not provider.local,
    }
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
                    client = await stack.enter_async_context(PrometheusClient(source))
            toolbox = Toolbox(investigation, alert, client)
            protect = redactor.redact if redactor is not None else None
            result = await run_tool_loop(provider, messages, toolbox.specs(), limits, protect=protect)
        details.update(tool_calls=result.calls[:30], steps=result.steps, stopped=result.stopped, tools=True)
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
