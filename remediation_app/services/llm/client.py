"""The one LLM client: every call to a model, streamed or not, with its tokens, context window and cost.

Calls go through LiteLLM (imported lazily: sdk.py). Retries are ours (the job queue's backoff), so
LiteLLM and the OpenAI client it wraps are told not to retry. Errors are LLMError (errors.py).

Tools (function calling): `complete(..., tools=...)` offers OpenAI-style function definitions and
returns the model's calls as plain `ToolCall`s with the assistant message to append (a plain dict:
nothing of LiteLLM leaves this module); `supports_tools` says whether a provider gets them.

Cost has one source, LiteLLM's `completion_cost`, for both kinds of call: a streamed answer is first
assembled by `stream_chunk_builder` (the provider's usage when the stream carried it, else LiteLLM's
own count of the prompt and the text received), then priced like any response.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any

from remediation_app.services import metrics
from remediation_app.services.llm.config import ProviderConfig
from remediation_app.services.llm.errors import LLMError, classify
from remediation_app.services.llm.sdk import litellm_module, loaded
from remediation_app.services.text import storable_text

log = logging.getLogger(__name__)
# Chat messages as sent: mostly {"role", "content"} strings; a tool loop's also carry `tool_calls`
# (assistant) and `tool_call_id` (tool results).
Messages = list[dict[str, Any]]
# Used when LiteLLM does not know the model's context window (a local model, a custom endpoint).
DEFAULT_CONTEXT_TOKENS = 8192
ANSWER_MAX = 200_000  # characters of a streamed answer kept (a runaway model stops filling memory)
TOOL_CALLS_MAX = 32  # tool calls taken from one answer (the loop bounds what it runs; this bounds memory)


@dataclass(frozen=True)
class ToolCall:
    """One tool call of an answer: `arguments` is the model's JSON text as sent (maybe not valid JSON)."""

    id: str
    name: str
    arguments: str


@dataclass
class Completion:
    text: str
    prompt_tokens: int | None
    completion_tokens: int | None
    cost_usd: float | None
    latency_ms: int
    model: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    # The assistant message to append before the tool results (plain JSON-able values).
    message: dict[str, Any] = field(default_factory=dict)


@dataclass
class StreamResult:
    """A streamed answer as it ends: the text so far (kept on errors and Stop), tokens, cost, error."""

    text: str = ""
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: float | None = None
    error: str = ""
    stopped: bool = False
    latency_ms: int = 0
    # The tools the model called (when it was offered some), assembled from the streamed pieces.
    tool_calls: list[ToolCall] = field(default_factory=list)


def call_kwargs(provider: ProviderConfig, messages: Messages, max_tokens: int | None = None) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "model": provider.model,
        "messages": messages,
        "temperature": provider.temperature,
        "max_tokens": max_tokens or provider.max_tokens,
        "timeout": provider.timeout_s,
        "num_retries": 0,
        "max_retries": 0,
    }
    if provider.api_base:
        kwargs["api_base"] = provider.api_base
    if provider.api_key:
        kwargs["api_key"] = provider.api_key
    return kwargs


def count_tokens(model: str, messages: Messages) -> int:
    litellm = litellm_module()
    try:
        return int(litellm.token_counter(model=model, messages=messages))
    except Exception:  # an unknown tokenizer: about four characters a token
        return sum(len(str(m.get("content") or "")) // 4 + 4 for m in messages)


def context_window(model: str) -> int:
    """The model's input window in tokens, as LiteLLM knows it (or DEFAULT_CONTEXT_TOKENS)."""
    litellm = litellm_module()
    try:
        info = litellm.get_model_info(model)
    except Exception:
        return DEFAULT_CONTEXT_TOKENS
    value = info.get("max_input_tokens") or info.get("max_tokens")
    return int(value) if isinstance(value, int) and value > 0 else DEFAULT_CONTEXT_TOKENS


def cost(response: Any, model: str) -> float | None:
    """LiteLLM's price of a response (from its usage); None when LiteLLM does not know the model's price.
    `model` (the configured one) is the fallback when the model the provider names is not priced."""
    try:
        value = litellm_module().completion_cost(completion_response=response, model=model)
    except Exception:
        return None
    return float(value) if isinstance(value, int | float) and value >= 0 else None


def _tokens(response: Any) -> tuple[int | None, int | None]:
    usage = getattr(response, "usage", None)
    prompt, completion = getattr(usage, "prompt_tokens", None), getattr(usage, "completion_tokens", None)
    return (prompt if isinstance(prompt, int) else None, completion if isinstance(completion, int) else None)


def _supports_json_mode(litellm: Any, model: str) -> bool:
    try:
        params = litellm.get_supported_openai_params(model=model) or []
    except Exception:
        return False
    return "response_format" in params


def supports_tools(provider: ProviderConfig) -> bool:
    """Whether the provider is offered tools: its `tool_calling` setting, "on" or "off", or for "auto"
    what LiteLLM knows of the model (an unknown model, e.g. a custom endpoint's: no)."""
    mode = provider.tool_calling
    if mode in ("on", "off"):
        return mode == "on"
    try:
        return bool(litellm_module().supports_function_calling(model=provider.model))
    except Exception:
        return False


def _tool_calls(message: Any) -> list[ToolCall]:
    calls: list[ToolCall] = []
    for index, item in enumerate((getattr(message, "tool_calls", None) or [])[:TOOL_CALLS_MAX]):
        function = getattr(item, "function", None)
        name, arguments = getattr(function, "name", None), getattr(function, "arguments", None)
        if not isinstance(name, str):
            continue
        call_id = getattr(item, "id", None)
        # Some local servers send no id; the result must still name the call it answers.
        call_id = call_id if isinstance(call_id, str) and call_id else f"call_{index}"
        arguments = arguments if isinstance(arguments, str) else ""
        calls.append(ToolCall(id=storable_text(call_id), name=storable_text(name), arguments=storable_text(arguments)))
    return calls


def _assistant_message(text: str, calls: list[ToolCall]) -> dict[str, Any]:
    if not calls:
        return {"role": "assistant", "content": text}
    return {
        "role": "assistant",
        "content": text or None,  # OpenAI's own shape beside tool calls
        "tool_calls": [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}} for c in calls
        ],
    }


async def complete(
    provider: ProviderConfig,
    messages: Messages,
    *,
    json_mode: bool = False,
    max_tokens: int | None = None,
    tools: list[dict[str, Any]] | None = None,
    tool_choice: str | dict[str, Any] | None = None,
) -> Completion:
    """One completion. Raises LLMError (never LiteLLM's own exceptions).

    `tools`: OpenAI function definitions (`{"type": "function", "function": {...}}`) the model may
    call; its calls come back in `Completion.tool_calls`. `tool_choice` as OpenAI's ("none", "auto"...)."""
    litellm = await loaded()
    kwargs = call_kwargs(provider, messages, max_tokens)
    if json_mode and _supports_json_mode(litellm, provider.model):
        kwargs["response_format"] = {"type": "json_object"}
    if tools:
        kwargs["tools"] = tools
    if tool_choice is not None:
        kwargs["tool_choice"] = tool_choice
    started = time.perf_counter()
    try:
        # LiteLLM enforces `timeout` per request; the outer bound also covers a stalled body.
        async with asyncio.timeout(provider.timeout_s + 5):
            response = await litellm.acompletion(**kwargs)
    except asyncio.CancelledError:
        raise
    except TimeoutError as exc:
        metrics.record_llm_call(provider.model, time.perf_counter() - started, None, None, None)
        raise LLMError(f"Timeout: no answer within {provider.timeout_s:g} s", transient=True) from exc
    except Exception as exc:
        metrics.record_llm_call(provider.model, time.perf_counter() - started, None, None, None)
        raise classify(exc, provider) from exc
    elapsed = time.perf_counter() - started
    try:
        message = response.choices[0].message
    except (AttributeError, IndexError, TypeError):
        message = None
    # Model output is stored; PostgreSQL refuses NUL.
    text = storable_text(str(getattr(message, "content", None) or ""))
    calls = _tool_calls(message)
    prompt_tokens, completion_tokens = _tokens(response)
    price = cost(response, provider.model)
    metrics.record_llm_call(provider.model, elapsed, prompt_tokens, completion_tokens, price)
    return Completion(
        text=text,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        cost_usd=price,
        latency_ms=int(elapsed * 1000),
        model=str(getattr(response, "model", "") or provider.model),
        tool_calls=calls,
        message=_assistant_message(text, calls),
    )


async def check_connection(provider: ProviderConfig) -> Completion:
    """The smallest useful call: a few tokens back, or the provider's exact error (LLMError)."""
    return await complete(provider, [{"role": "user", "content": "Reply with the single word: ok"}], max_tokens=5)


async def stream(
    provider: ProviderConfig,
    messages: Messages,
    result: StreamResult,
    *,
    prompt_tokens: int | None = None,
    too_long_error: str = "",
    tools: list[dict[str, Any]] | None = None,
) -> AsyncGenerator[str, None]:
    """Yield the answer's text pieces as they arrive, filling `result` (tokens, cost, error).

    Provider errors end the stream with `result.error` set (the partial text kept); `too_long_error`
    replaces the error when the provider refuses the prompt as too long (the caller knows what the
    user can do about it). `prompt_tokens`: the caller's count of `messages`, used when the provider
    reports no usage. Consume it inside `contextlib.aclosing(...)`: cancelling or closing the consumer
    closes the provider's connection at once and marks the result stopped. `tools`: OpenAI function
    definitions offered; the calls the model makes end up in `result.tool_calls` once it ends."""
    litellm = await loaded()
    kwargs = call_kwargs(provider, messages)
    kwargs.update(stream=True, stream_options={"include_usage": True})
    if tools:
        kwargs["tools"] = tools
    started = time.perf_counter()
    response: Any = None
    received = _Received()
    try:
        response = await litellm.acompletion(**kwargs)
        async for chunk in response:
            received.add(chunk)
            try:
                delta = chunk.choices[0].delta
                piece = delta.content or ""
            except (AttributeError, IndexError, TypeError):
                delta, piece = None, ""
            if tools and delta is not None:
                received.add_tool_calls(getattr(delta, "tool_calls", None))
            if piece and len(result.text) < ANSWER_MAX:
                piece = storable_text(piece)
                result.text += piece
                yield piece
    except (asyncio.CancelledError, GeneratorExit):  # Stop: the consumer was cancelled or closed us
        result.stopped = True
        raise
    except Exception as exc:
        error = classify(exc, provider)
        if error.too_long and too_long_error:  # our count was off: say what to do
            log.info("the provider refused the prompt as too long: %s", error)
            result.error = too_long_error
        else:  # shown in the chat: the endpoint and the reason, not LiteLLM's chain of wrappers
            result.error = error.reason
    finally:
        if response is not None and hasattr(response, "aclose"):
            try:
                await asyncio.shield(response.aclose())
            except BaseException:  # closing a half-dead stream may fail; the connection is dropped either way
                log.debug("closing the provider stream failed", exc_info=True)
        result.latency_ms = int((time.perf_counter() - started) * 1000)
        result.tool_calls = received.tool_calls()
        _settle(litellm, provider, messages, received, result, prompt_tokens)
        elapsed = time.perf_counter() - started
        metrics.record_llm_call(
            provider.model, elapsed, result.prompt_tokens, result.completion_tokens, result.cost_usd
        )


class _Received:
    """What the end of a stream needs of its chunks, kept small. Holding LiteLLM's object for every
    token would pile up garbage (a long answer is thousands of chunks), and `stream_chunk_builder`
    costs ~12 us a chunk on the event loop, so it is given the answer as one chunk: a copy of the
    first chunk with text, carrying the whole text, then the chunks with the provider's usage."""

    def __init__(self) -> None:
        self.first: Any = None  # the first chunk with a choice: the response's id, model and time
        self.usage: list[Any] = []  # normally the last chunk alone
        self.calls: dict[int, dict[str, str]] = {}  # streamed tool calls by index: id, name, arguments

    def add_tool_calls(self, pieces: Any) -> None:
        """OpenAI streams a call as pieces with its index: the id and name first, then the arguments."""
        for piece in pieces or []:
            index = getattr(piece, "index", None)
            if not isinstance(index, int) or (index not in self.calls and len(self.calls) >= TOOL_CALLS_MAX):
                continue
            call = self.calls.setdefault(index, {"id": "", "name": "", "arguments": ""})
            function = getattr(piece, "function", None)
            for key, value in (("id", getattr(piece, "id", None)), ("name", getattr(function, "name", None))):
                if isinstance(value, str) and value and not call[key]:
                    call[key] = value
            arguments = getattr(function, "arguments", None)
            if isinstance(arguments, str) and len(call["arguments"]) < ANSWER_MAX:
                call["arguments"] += arguments

    def tool_calls(self) -> list[ToolCall]:
        return [
            ToolCall(
                id=storable_text(call["id"] or f"call_{index}"),
                name=storable_text(call["name"]),
                arguments=storable_text(call["arguments"]),
            )
            for index, call in sorted(self.calls.items())
            if call["name"]
        ]

    def add(self, chunk: Any) -> None:
        if self.first is None and getattr(chunk, "choices", None):
            self.first = chunk
        if getattr(chunk, "usage", None) is not None:
            self.usage.append(chunk)

    def chunks(self, text: str) -> list[Any]:
        if self.first is None or not (text or self.usage):  # no text, no usage: nothing to count or price
            return list(self.usage)
        whole = self.first.model_copy(deep=True)
        whole.choices[0].delta.content = text
        return [whole, *(chunk for chunk in self.usage if chunk is not self.first)]


def _settle(
    litellm: Any,
    provider: ProviderConfig,
    messages: Messages,
    received: _Received,
    result: StreamResult,
    prompt_tokens: int | None,
) -> None:
    """Tokens and cost of a stream that ended (complete, stopped or failed) from what it received."""
    built = None
    count = (lambda: prompt_tokens) if prompt_tokens is not None else None
    try:
        chunks = received.chunks(result.text)
        if chunks:
            built = litellm.stream_chunk_builder(chunks, messages=messages, count_prompt_tokens=count)
    except Exception:  # a stream LiteLLM cannot assemble: counted as if nothing came back
        log.warning("assembling the streamed answer's usage failed", exc_info=True)
    if built is None:  # nothing came back: the prompt was still sent
        result.prompt_tokens = prompt_tokens if prompt_tokens is not None else count_tokens(provider.model, messages)
        return
    result.prompt_tokens, result.completion_tokens = _tokens(built)
    result.cost_usd = cost(built, provider.model)
