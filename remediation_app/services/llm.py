"""Calling an LLM through LiteLLM: one place for the import, the call, errors, tokens and cost.

LiteLLM is imported lazily (it takes seconds and must never sit on the webhook path) and with
LITELLM_LOCAL_MODEL_COST_MAP=True, so importing it makes no network call. Retries are ours (the
job queue's backoff), so LiteLLM and the OpenAI client it wraps are told not to retry.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from remediation_app.services import metrics

DEFAULT_TEMPERATURE = 0.2
# Longest error text kept (shown on the alert page and the providers page).
ERROR_MAX = 2000


@dataclass(frozen=True)
class ProviderConfig:
    """What a call needs. `id` 0 is the provider from the environment (LLM_MODEL)."""

    id: int
    name: str
    model: str
    api_base: str = ""
    api_key: str = ""
    temperature: float = DEFAULT_TEMPERATURE
    max_tokens: int = 1500
    timeout_s: float = 60.0

    def __repr__(self) -> str:  # never print the key
        return f"ProviderConfig(id={self.id}, name={self.name!r}, model={self.model!r})"


@dataclass
class Completion:
    text: str
    prompt_tokens: int | None
    completion_tokens: int | None
    cost_usd: float | None
    latency_ms: int
    model: str


class LLMError(Exception):
    """A failed call; `transient` errors are worth retrying (timeouts, 5xx, 429, refused connections)."""

    def __init__(self, message: str, *, transient: bool, status: int | None = None) -> None:
        super().__init__(message[:ERROR_MAX])
        self.transient = transient
        self.status = status


@functools.cache
def litellm_module() -> Any:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    litellm.suppress_debug_info = True  # no "Give Feedback / Get Help" banner on every error
    for name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy"):
        logging.getLogger(name).setLevel(logging.WARNING)
    litellm.drop_params = True  # a provider that lacks an optional parameter still answers
    return litellm


async def warm_up() -> None:
    """Import LiteLLM in a thread at startup, so the first analysis does not pay for it."""
    await asyncio.to_thread(litellm_module)


def _status(exc: BaseException) -> int | None:
    status = getattr(exc, "status_code", None)
    return status if isinstance(status, int) else None


def scrub(text: str, provider: ProviderConfig | None) -> str:
    """Text safe to show anyone: the provider's key (and a password inside its API base) masked,
    NUL characters replaced (PostgreSQL cannot store them)."""
    text = text.replace("\x00", "\ufffd")
    if provider is None:
        return text
    secrets = [provider.api_key]
    password = urlsplit(provider.api_base).password if provider.api_base else None
    secrets.append(password or "")
    for secret in secrets:
        if len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


def classify(exc: BaseException, provider: ProviderConfig | None = None) -> LLMError:
    """Map LiteLLM's exception to our error: transient or not, with the provider's own message
    (scrubbed: providers and proxies have been known to echo the key back)."""
    litellm = litellm_module()
    status = _status(exc)
    transient_types: tuple[type[BaseException], ...] = (
        asyncio.TimeoutError,
        litellm.Timeout,
        litellm.RateLimitError,
        litellm.APIConnectionError,
        litellm.InternalServerError,
        litellm.ServiceUnavailableError,
    )
    transient = isinstance(exc, transient_types) or (status is not None and (status == 429 or status >= 500))
    if isinstance(exc, litellm.ContextWindowExceededError):
        transient = False
    name = type(exc).__name__
    message = str(exc).strip() or name
    if not message.startswith(name):
        message = f"{name}: {message}"
    if isinstance(exc, litellm.ContextWindowExceededError):
        message = "the prompt is too long for this model (" + message[:300] + ")"
    return LLMError(scrub(message, provider), transient=transient, status=status)


def _supports_json_mode(litellm: Any, model: str) -> bool:
    try:
        params = litellm.get_supported_openai_params(model=model) or []
    except Exception:
        return False
    return "response_format" in params


def _usage(response: Any) -> tuple[int | None, int | None]:
    usage = getattr(response, "usage", None)
    if usage is None:
        return None, None
    prompt, completion = getattr(usage, "prompt_tokens", None), getattr(usage, "completion_tokens", None)
    return (prompt if isinstance(prompt, int) else None, completion if isinstance(completion, int) else None)


def _cost(litellm: Any, response: Any) -> float | None:
    """LiteLLM's cost for the call; None when it does not know the model's price."""
    try:
        cost = litellm.completion_cost(completion_response=response)
    except Exception:
        return None
    return float(cost) if isinstance(cost, int | float) and cost >= 0 else None


def call_kwargs(provider: ProviderConfig) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "model": provider.model,
        "timeout": provider.timeout_s,
        "num_retries": 0,
        "max_retries": 0,
    }
    if provider.api_base:
        kwargs["api_base"] = provider.api_base
    if provider.api_key:
        kwargs["api_key"] = provider.api_key
    return kwargs


async def complete(
    provider: ProviderConfig,
    messages: list[dict[str, str]],
    *,
    json_mode: bool = False,
    max_tokens: int | None = None,
) -> Completion:
    """One completion. Raises LLMError (never LiteLLM's own exceptions)."""
    litellm = await asyncio.to_thread(litellm_module)
    kwargs = call_kwargs(provider)
    kwargs.update(
        messages=messages,
        temperature=provider.temperature,
        max_tokens=max_tokens or provider.max_tokens,
    )
    if json_mode and _supports_json_mode(litellm, provider.model):
        kwargs["response_format"] = {"type": "json_object"}
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
        text = response.choices[0].message.content or ""
    except (AttributeError, IndexError, TypeError):
        text = ""
    text = str(text).replace("\x00", "\ufffd")  # model output is stored; PostgreSQL refuses NUL
    prompt_tokens, completion_tokens = _usage(response)
    cost = _cost(litellm, response)
    metrics.record_llm_call(provider.model, elapsed, prompt_tokens, completion_tokens, cost)
    return Completion(
        text=str(text),
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        cost_usd=cost,
        latency_ms=int(elapsed * 1000),
        model=str(getattr(response, "model", "") or provider.model),
    )


async def check_connection(provider: ProviderConfig) -> Completion:
    """The smallest useful call: a few tokens back, or the provider's exact error (LLMError)."""
    return await complete(
        provider,
        [{"role": "user", "content": "Reply with the single word: ok"}],
        max_tokens=5,
    )
