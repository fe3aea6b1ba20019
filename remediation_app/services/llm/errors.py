"""A failed call as we report it (LiteLLM's exceptions mapped by `classify`), and text from a
provider made safe to show and to store.

Providers and proxies have been known to echo the API key back in an error, and PostgreSQL cannot
store NUL characters or lone surrogates: every provider text we keep goes through
services.text.storable_text, every error through `scrub`.
"""

from __future__ import annotations

import asyncio
import re
from urllib.parse import urlsplit

from remediation_app.services.llm.config import ProviderConfig
from remediation_app.services.llm.sdk import litellm_module
from remediation_app.services.text import storable_text

# Longest error text kept (shown on the alert page and the providers page).
ERROR_MAX = 2000


# The prefixes LiteLLM stacks on a provider's message ("litellm.NotFoundError: NotFoundError:
# OpenAIException - ..."), taken off one by one to leave the provider's own words.
_WRAPPER_PREFIX = re.compile(r"^(?:litellm\.)?\w+(?:Error|Exception)(?::| -)\s+")
# How far down an exception's causes we look for the socket error (LiteLLM wraps it ~5 deep).
_CHAIN_MAX = 12


class LLMError(Exception):
    """A failed call; `transient` errors are worth retrying (timeouts, 5xx, 429, refused connections).
    `too_long`: the provider refused the prompt as longer than the model's context window.
    `reason`: the short form for people ("connection refused at <endpoint>", "HTTP 500 from
    <endpoint>: <provider's message>"); the message itself keeps LiteLLM's full text."""

    def __init__(
        self, message: str, *, transient: bool, status: int | None = None, too_long: bool = False, reason: str = ""
    ) -> None:
        super().__init__(message[:ERROR_MAX])
        self.transient = transient
        self.status = status
        self.too_long = too_long
        self.reason = (reason or str(self))[:ERROR_MAX]


def scrub(text: str, provider: ProviderConfig | None) -> str:
    """Text safe to show anyone: the provider's key (and a password inside its API base) masked,
    NUL characters and lone surrogates replaced (PostgreSQL cannot store them)."""
    text = storable_text(text)
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
    status = getattr(exc, "status_code", None)
    status = status if isinstance(status, int) else None
    transient_types: tuple[type[BaseException], ...] = (
        asyncio.TimeoutError,
        litellm.Timeout,
        litellm.RateLimitError,
        litellm.APIConnectionError,
        litellm.InternalServerError,
        litellm.ServiceUnavailableError,
    )
    too_long = isinstance(exc, litellm.ContextWindowExceededError)
    transient = not too_long and (
        isinstance(exc, transient_types) or (status is not None and (status == 429 or status >= 500))
    )
    name = type(exc).__name__
    message = str(exc).strip() or name
    if not message.startswith(name):
        message = f"{name}: {message}"
    if too_long:
        message = "the prompt is too long for this model (" + message[:300] + ")"
    reason = message if too_long else _reason(exc, status, provider)
    return LLMError(
        scrub(message, provider), transient=transient, status=status, too_long=too_long, reason=scrub(reason, provider)
    )


def _causes(exc: BaseException) -> list[BaseException]:
    """`exc` and what it wraps (Python's causes, and LiteLLM's `original_exception`)."""
    found: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in found and len(found) < _CHAIN_MAX:
        found.append(current)
        wrapped = getattr(current, "original_exception", None)
        inner = current.__cause__ or current.__context__
        current = inner if inner is not None else wrapped if isinstance(wrapped, BaseException) else None
    return found


def endpoint(provider: ProviderConfig | None) -> str:
    """Where the calls go, as people know it: the API base without credentials, or the vendor's API."""
    if provider is None:
        return "the provider"
    if provider.api_base:
        try:
            parts = urlsplit(provider.api_base)
            host = parts.hostname or ""
            port = f":{parts.port}" if parts.port else ""
        except ValueError:  # a port that is not a number: saying where must not fail the error path
            return "the configured API base"
        host = f"[{host}]" if ":" in host else host
        return f"{parts.scheme}://{host}{port}{parts.path}" if host else "the configured API base"
    vendor = provider.model.split("/", 1)[0] if "/" in provider.model else provider.model
    return f"the {vendor} API"


def _reason(exc: BaseException, status: int | None, provider: ProviderConfig | None) -> str:
    """The short reason with the endpoint. LiteLLM reports a refused connection as HTTP 500, so the
    socket error is looked for (after timeouts, which are OSErrors too) down the causes."""
    where = endpoint(provider)
    litellm = litellm_module()
    causes = _causes(exc)
    if isinstance(exc, asyncio.TimeoutError | litellm.Timeout):
        timeout = f" within {provider.timeout_s:g} s" if provider else ""
        return f"no answer from {where}{timeout}"
    if any(isinstance(c, ConnectionRefusedError) for c in causes):
        return f"connection refused at {where}"
    socket_error = next((c for c in causes if isinstance(c, OSError) and c.strerror), None)
    if socket_error is not None:
        return f"connection error at {where}: {socket_error.strerror}"
    if any(type(c).__name__ == "APIConnectionError" for c in causes):
        return f"connection error at {where}"
    said = str(exc).strip()
    while (shorter := _WRAPPER_PREFIX.sub("", said, count=1)) != said:
        said = shorter
    if status is not None:
        return f"HTTP {status} from {where}: {said}" if said else f"HTTP {status} from {where}"
    return f"{said or type(exc).__name__} ({where})"
