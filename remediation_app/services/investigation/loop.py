"""The bounded tool loop of an analysis: the model may call tools (PromQL, alert search, history...)
for a few rounds, then answers.

Bounds (LoopLimits): model calls, wall time, tokens and cost for the whole loop, tool calls per round
and in all, and a timeout per tool call. When one is reached the model is called once more with
tool_choice "none" and asked for its final answer; `LoopResult.stopped` says why. That last call is
always made (an analysis needs an answer), so it alone may pass the token, cost or time bound.

A tool's failure (an unknown name, arguments that are not a JSON object, a ToolError, a bug, a
timeout) goes back to the model as that call's result, never out of the loop. Provider errors
(LLMError) propagate as from `complete`, so the job queue retries.

Tool results are untrusted data: each is redacted (`protect`), cut to TOOL_TEXT_MAX characters and
quoted like alert data (prompts.quote), in markers the model is told about (tool_loop_system.j2).
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from remediation_app.services.llm.client import Completion, Messages, ToolCall, complete
from remediation_app.services.llm.config import ProviderConfig
from remediation_app.services.llm.prompts import quote, render

log = logging.getLogger(__name__)

TOOL_TEXT_MAX = 6_000  # characters of one tool result the model sees
ARGUMENTS_KEPT = 500  # characters of a call's arguments kept in LoopResult.calls
ERROR_KEPT = 300
_STOP_REASONS = {
    "steps": "the limit of rounds is reached",
    "time": "the time for this analysis is spent",
    "tokens": "the token budget of this analysis is spent",
    "cost": "the cost budget of this analysis is spent",
    "calls": "the tool-call budget of this analysis is spent",
}


class ToolError(Exception):
    """A tool's expected failure (a bad query, a datasource down): its message goes to the model.
    Any other exception from a handler is a bug: logged, and the model only learns that it failed."""


@dataclass
class ToolOutcome:
    text: str  # what goes back to the model (bounded again by the loop)
    evidence_id: str | None = None


@dataclass
class ToolSpec:
    name: str
    description: str
    parameters: dict[str, Any]  # JSON schema of the arguments object
    handler: Callable[[dict[str, Any]], Awaitable[ToolOutcome]]

    def definition(self) -> dict[str, Any]:
        """As offered to the model (OpenAI's function tool)."""
        function = {"name": self.name, "description": self.description, "parameters": self.parameters}
        return {"type": "function", "function": function}


@dataclass
class LoopLimits:
    max_steps: int = 6  # model calls in all, the final answer's included
    wall_s: float = 90.0
    max_tokens: int = 60_000  # prompt + completion, summed over the calls
    max_cost_usd: float | None = None
    tool_timeout_s: float = 20.0  # per tool call, within what is left of wall_s
    max_calls_per_step: int = 5
    max_calls: int = 15

    def __post_init__(self) -> None:
        if min(self.max_steps, self.max_calls_per_step, self.max_calls) < 1:
            raise ValueError("max_steps, max_calls_per_step and max_calls must be at least 1")
        if not (self.wall_s > 0 and self.tool_timeout_s > 0 and self.max_tokens > 0):
            raise ValueError("wall_s, tool_timeout_s and max_tokens must be positive")


@dataclass
class LoopResult:
    text: str = ""  # the final answer
    prompt_tokens: int | None = None  # sums over the calls; None when no call reported them
    completion_tokens: int | None = None
    cost_usd: float | None = None
    latency_ms: int = 0
    steps: int = 0  # model calls
    # Each tool call asked for: name, arguments (cut, redacted), ok, evidence_id, error.
    calls: list[dict[str, Any]] = field(default_factory=list)
    stopped: str = "answered"  # or one of _STOP_REASONS
    model: str = ""  # as the provider named it


@dataclass
class _Run:
    """What one loop spent and has left."""

    limits: LoopLimits
    deadline: float
    protect: Callable[[str], str] | None
    nonce: str
    result: LoopResult = field(default_factory=LoopResult)
    last_prompt: int = 0  # the last call's prompt and answer: the next prompt holds both
    last_completion: int = 0
    last_cost: float = 0.0
    added_chars: int = 0  # characters appended since the last call
    handled: int = 0  # tool calls run

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def spent(self, completion: Completion) -> None:
        r = self.result
        r.model = completion.model
        if completion.prompt_tokens is not None:
            r.prompt_tokens = (r.prompt_tokens or 0) + completion.prompt_tokens
            self.last_prompt = completion.prompt_tokens
        if completion.completion_tokens is not None:
            r.completion_tokens = (r.completion_tokens or 0) + completion.completion_tokens
            self.last_completion = completion.completion_tokens
        if completion.cost_usd is not None:
            r.cost_usd = (r.cost_usd or 0.0) + completion.cost_usd
            self.last_cost = completion.cost_usd
        self.added_chars = 0

    def bound_reached(self) -> str | None:
        """Why the next call may not offer tools. The next call costs at least what the last did
        (the conversation only grows), so a bound is kept when that would cross it."""
        r, limits = self.result, self.limits
        if r.steps + 1 >= limits.max_steps:
            return "steps"
        if self.left() <= 0:
            return "time"
        used = (r.prompt_tokens or 0) + (r.completion_tokens or 0)
        if used + self.last_prompt + self.last_completion + self.added_chars // 4 > limits.max_tokens:
            return "tokens"
        if limits.max_cost_usd is not None and (r.cost_usd or 0.0) + self.last_cost > limits.max_cost_usd:
            return "cost"
        if self.handled >= limits.max_calls:
            return "calls"
        return None


async def run_tool_loop(
    provider: ProviderConfig,
    messages: Messages,
    tools: list[ToolSpec],
    limits: LoopLimits,
    *,
    json_mode: bool = True,
    protect: Callable[[str], str] | None = None,
    nonce: str | None = None,
) -> LoopResult:
    """Run the model with `tools` until it answers or a bound is reached (then once more without
    tools). `messages` is not changed. `protect` redacts each tool result before the model sees it;
    `nonce` names the result markers (the caller's own, to share one per prompt). Raises LLMError."""
    started = time.monotonic()
    run = _Run(limits, started + limits.wall_s, protect, nonce or secrets.token_hex(8))
    by_name = {spec.name: spec for spec in tools}
    definitions = [spec.definition() for spec in tools]
    note = render("tool_loop_system.j2", nonce=run.nonce, max_steps=limits.max_steps)
    conversation = _with_system_note(messages, note)
    stopped: str | None = None
    while (stopped := run.bound_reached()) is None:
        run.result.steps += 1  # counted before the call: one cut by the wall clock was still made
        try:
            async with asyncio.timeout(max(run.left(), 0.0)):
                completion = await complete(provider, conversation, json_mode=json_mode, tools=definitions)
        except TimeoutError:
            stopped = "time"
            break
        run.spent(completion)
        if not completion.tool_calls:
            return _finish(run, started, completion.text, "answered")
        conversation.append(completion.message)
        for message in await _run_calls(run, completion.tool_calls, by_name):
            conversation.append(message)
            run.added_chars += len(message["content"])
    final = render("tool_loop_final.j2", reason=_STOP_REASONS[stopped], json_mode=json_mode)
    conversation.append({"role": "user", "content": final})
    run.result.steps += 1
    # tool_choice "none" rather than no tools: some providers refuse tool messages without the tools.
    completion = await complete(
        provider,
        conversation,
        json_mode=json_mode,
        tools=definitions or None,
        tool_choice="none" if definitions else None,
    )
    run.spent(completion)
    return _finish(run, started, completion.text, stopped)


def _finish(run: _Run, started: float, text: str, stopped: str) -> LoopResult:
    result = run.result
    result.text, result.stopped = text, stopped
    result.latency_ms = int((time.monotonic() - started) * 1000)
    log.info("tool loop: %d model calls, %d tool calls, stopped: %s", result.steps, len(result.calls), stopped)
    return result


def _with_system_note(messages: Messages, note: str) -> Messages:
    """A copy of `messages` with `note` as a system message after the leading ones."""
    at = 0
    while at < len(messages) and messages[at].get("role") == "system":
        at += 1
    return [*messages[:at], {"role": "system", "content": note}, *messages[at:]]


async def _run_calls(run: _Run, calls: list[ToolCall], by_name: dict[str, ToolSpec]) -> list[dict[str, Any]]:
    """One `role: tool` message per call, in order: every call gets an answer, even those not run.
    Calls run one after another: handlers may share a database session."""
    limits = run.limits
    messages: list[dict[str, Any]] = []
    outcome: ToolOutcome | None
    error: str | None
    for index, call in enumerate(calls):
        if index >= limits.max_calls_per_step:
            outcome, error = None, f"not run: at most {limits.max_calls_per_step} tool calls per round"
        elif run.handled >= limits.max_calls:
            outcome, error = None, f"not run: the analysis' budget of {limits.max_calls} tool calls is spent"
        elif run.left() <= 0:
            outcome, error = None, "not run: the analysis' time is spent"
        else:
            run.handled += 1
            outcome, error = await _run_one(run, call, by_name)
        messages.append(_tool_message(run, call, outcome, error))
    return messages


async def _run_one(run: _Run, call: ToolCall, by_name: dict[str, ToolSpec]) -> tuple[ToolOutcome | None, str | None]:
    spec = by_name.get(call.name)
    if spec is None:
        return None, f"unknown tool {call.name[:100]!r}; the tools are: {', '.join(sorted(by_name)) or 'none'}"
    arguments, error = _arguments(call.arguments, spec)
    if arguments is None:
        return None, error
    timeout = min(run.limits.tool_timeout_s, max(run.left(), 0.0))
    deadline = asyncio.timeout(timeout)
    try:
        async with deadline:
            outcome = await spec.handler(arguments)
    except ToolError as exc:
        return None, str(exc) or type(exc).__name__
    except TimeoutError:
        if deadline.expired():
            return None, f"no result within {timeout:.3g} s"
        return None, _bug(run, spec)
    except Exception:
        return None, _bug(run, spec)
    if not isinstance(outcome, ToolOutcome):
        log.error("tool %s returned %s, not a ToolOutcome", spec.name, type(outcome).__name__)
        return None, "the tool failed unexpectedly (no result)"
    return outcome, None


def _bug(run: _Run, spec: ToolSpec) -> str:
    """Log a handler's unexpected exception (redacted like a result: its message may hold what the
    tool read) and say to the model only that it failed."""
    exc = sys.exc_info()[1]
    trace = "".join(traceback.format_exception(exc)) if exc is not None else ""
    log.error("tool %s failed: %s", spec.name, _protected(run, trace[-TOOL_TEXT_MAX * 2 :]))
    return f"the tool failed unexpectedly ({type(exc).__name__})"


def _arguments(text: str, spec: ToolSpec) -> tuple[dict[str, Any] | None, str]:
    if not text.strip():  # some models send "" for a call without arguments
        value: Any = {}
    else:
        try:
            value = json.loads(text)
        except (ValueError, RecursionError) as exc:
            return None, f"the arguments are not valid JSON ({str(exc)[:100]}); send a JSON object"
    if not isinstance(value, dict):
        return None, f"the arguments must be a JSON object, not {type(value).__name__}"
    required = spec.parameters.get("required") or []
    missing = [name for name in required if isinstance(name, str) and name not in value]
    if missing:
        return None, f"missing required arguments: {', '.join(missing)}"
    return value, ""


def _tool_message(run: _Run, call: ToolCall, outcome: ToolOutcome | None, error: str | None) -> dict[str, Any]:
    """The result as the model gets it (redacted, cut, quoted), and its record in LoopResult.calls."""
    text = outcome.text if outcome is not None else (error or "failed")
    # Cut before redacting only far past what is kept (bounds the redaction's work without cutting a
    # secret where it could still show), then cut to size after.
    text = _protected(run, text[: TOOL_TEXT_MAX * 2])
    if len(text) > TOOL_TEXT_MAX:
        text = text[:TOOL_TEXT_MAX] + "\n[cut]"
    evidence_id = str(outcome.evidence_id)[:100] if outcome is not None and outcome.evidence_id else None
    if outcome is None:
        head = "Failed:"
    elif evidence_id:
        head = f"Result (evidence id {json.dumps(evidence_id)}):"
    else:
        head = "Result:"
    run.result.calls.append(
        {
            "name": call.name[:100],
            "arguments": _protected(run, call.arguments[: ARGUMENTS_KEPT * 2])[:ARGUMENTS_KEPT],
            "ok": outcome is not None,
            "evidence_id": evidence_id,
            "error": text[:ERROR_KEPT] if outcome is None else None,
        }
    )
    return {"role": "tool", "tool_call_id": call.id, "content": f"{head}\n{quote(text, 'tool-result', run.nonce)}"}


def _protected(run: _Run, text: str) -> str:
    return run.protect(text) if run.protect is not None else text
