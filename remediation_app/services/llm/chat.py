"""Chat about an alert: the context sent to the model for one question, and the answer streamed to
one browser tab, coalesced for the page and stoppable at once. Storage is in conversations.py.
No reflex import: the page drives it.

Context = system prompt + the alert (quoted, delimited, untrusted) + the latest analysis + the
conversation so far + the question (with terminal lines attached, also quoted as untrusted). The
prompts are prompts/chat_*.j2; fitting them into the model's context window is limiter.py's (the
oldest turns go first; the system prompt and the alert never).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from remediation_app.models import Alert, Analysis
from remediation_app.services.llm import limiter
from remediation_app.services.llm.analysis import alert_data
from remediation_app.services.llm.client import StreamResult, context_window, count_tokens, stream
from remediation_app.services.llm.config import ProviderConfig
from remediation_app.services.llm.prompts import quote, render

TERMINAL_MAX = 16_000
ANALYSIS_MAX = 4000  # characters of the analysis' JSON sent with each question
CONTEXT_EXCEEDED = "the conversation is too long for this model; start a new conversation"
PUSH_INTERVAL_S = 0.05  # at most ~20 page updates a second, whatever the model's speed


class ChatError(ValueError):
    """A question that cannot be asked (empty, too long, nothing to ask with); the message says why."""


@dataclass
class Context:
    messages: list[dict[str, str]]
    prompt_tokens: int
    dropped_turns: int = 0
    budget: int = 0
    notes: list[str] = field(default_factory=list)
    # Tools offered with the question (OpenAI function definitions): the diagnostics' propose_command.
    tools: list[dict[str, Any]] | None = None


def analysis_brief(analysis: Analysis | None) -> dict[str, Any] | None:
    if analysis is None:
        return None
    if not analysis.structured:
        return {"unstructured_answer": analysis.raw_text[:ANALYSIS_MAX]}
    return {"urgency": analysis.urgency, **analysis.result}


def analysis_text(brief: dict[str, Any]) -> str:
    """The brief as JSON, at most ANALYSIS_MAX characters (a structured result can be hundreds of KB)."""
    text = json.dumps(brief, ensure_ascii=False, indent=1, default=str)
    if len(text) > ANALYSIS_MAX:
        text = json.dumps(brief, ensure_ascii=False, default=str)
    if len(text) > ANALYSIS_MAX:
        text = text[:ANALYSIS_MAX] + f"... [cut: {len(text) - ANALYSIS_MAX} more characters]"
    return text


def build_context(
    *,
    alert: Alert,
    analysis: Analysis | None,
    history: list[tuple[str, str]],
    question: str,
    model: str,
    reply_tokens: int,
    terminal_text: str = "",
    evidence: str = "",
    window: int | None = None,
    nonce: str | None = None,
) -> Context:
    """The messages for one question. `history` is (role, text) oldest first; whole turns are
    dropped, oldest first, until the prompt fits `limiter.input_budget` (the window less the reply
    and a margin). When the question with the alert does not fit alone, the terminal text is cut
    from its start (its last lines kept); if it still does not fit, ChatError."""
    nonce = nonce or secrets.token_hex(8)
    budget = limiter.input_budget(window or context_window(model), reply_tokens)
    brief = analysis_brief(analysis)
    analysis_json = analysis_text(brief) if brief is not None else None
    facts = render("chat_facts.j2", alert=alert_data(alert), analysis=analysis_json, evidence=evidence, nonce=nonce)
    system = [
        {"role": "system", "content": render("chat_system.j2", nonce=nonce)},
        {"role": "system", "content": facts},
    ]
    count = functools.partial(count_tokens, model)
    terminal_text = terminal_text[-TERMINAL_MAX:]

    def attach(text: str) -> str:
        return render("chat_terminal.j2", terminal=text, nonce=nonce)

    ask, fixed_tokens = limiter.fit_attachment(count, system, question, terminal_text, budget, attach)
    notes: list[str] = []
    if terminal_text and f"<terminal-{nonce}>" not in ask:
        notes.append("the terminal output was left out: it does not fit the model's context window")
    elif terminal_text and not ask.endswith(quote(terminal_text, "terminal", nonce)):
        notes.append("only the last lines of the terminal output fit the model's context window")
    if fixed_tokens > budget:
        raise ChatError(
            f"the alert and the question need about {fixed_tokens} tokens; the model takes {budget} "
            "(shorten the question or start a new conversation)"
        )
    turns = [_turn(role, text, nonce) for role, text in history]
    question_message = [{"role": "user", "content": ask}]
    trimmed = limiter.trim_history(count, system, turns, question_message, fixed_tokens, budget)
    return Context(trimmed.messages, trimmed.tokens, dropped_turns=trimmed.dropped_turns, budget=budget, notes=notes)


def _turn(role: str, text: str, nonce: str) -> dict[str, str]:
    """A stored turn as sent: the engine's report on proposed commands (role "diagnostic") is a user
    turn carrying it as quoted, untrusted data."""
    if role == "diagnostic":
        return {"role": "user", "content": render("chat_diagnostic.j2", result=text, nonce=nonce)}
    return {"role": role, "content": text}


_running: dict[str, asyncio.Task[None]] = {}


async def run_stream(
    key: str,
    provider: ProviderConfig,
    context: Context,
    result: StreamResult,
    push: Callable[[str], Awaitable[None]],
    *,
    interval: float = PUSH_INTERVAL_S,
) -> None:
    """Stream the answer, calling `push(text so far)` at once for the first piece and then at most
    every `interval` seconds, and once at the end. `stop(key)` ends it at once (the partial text
    is kept, the provider connection closed). One stream per key (a browser tab)."""
    changed = asyncio.Event()

    async def consume() -> None:
        pieces = stream(
            provider,
            context.messages,
            result,
            prompt_tokens=context.prompt_tokens,
            too_long_error=CONTEXT_EXCEEDED,
            tools=context.tools,
        )
        async with contextlib.aclosing(pieces):
            async for _piece in pieces:
                changed.set()

    stop(key)
    consumer = asyncio.create_task(consume(), name=f"chat-stream-{key[:12]}")
    _running[key] = consumer
    try:
        while not consumer.done():
            waiter = asyncio.create_task(changed.wait())
            await asyncio.wait({consumer, waiter}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            if changed.is_set():
                changed.clear()
                await push(result.text)
                await asyncio.sleep(interval)
        try:
            await consumer
        except asyncio.CancelledError:
            result.stopped = True
            if (current := asyncio.current_task()) is not None and current.cancelling():
                raise  # we were cancelled ourselves, not the stream by Stop
        await push(result.text)
    finally:
        if _running.get(key) is consumer:
            del _running[key]
        if not consumer.done():
            consumer.cancel()
            await asyncio.gather(consumer, return_exceptions=True)


def stop(key: str) -> bool:
    """Stop the tab's stream now; False if none is running."""
    task = _running.get(key)
    if task is None or task.done():
        return False
    task.cancel()
    return True


def streaming(key: str) -> bool:
    task = _running.get(key)
    return task is not None and not task.done()
