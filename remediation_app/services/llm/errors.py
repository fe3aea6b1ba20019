"""A failed call as we report it (LiteLLM's exceptions mapped by `classify`), and text from a
provider made safe to show and to store.

Providers and proxies have been known to echo the API key back in an error, and PostgreSQL cannot
store NUL characters or lone surrogates: every provider text we keep goes through
services.text.storable_text, every error through `scrub`.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

from remediation_app.services.llm.config import ProviderConfig
from remediation_app.services.llm.sdk import litellm_module
from remediation_app.services.text import storable_text

# Longest error text kept (shown on the alert page and the providers page).
ERROR_MAX = 2000


class LLMError(Exception):
    """A failed call; `transient` errors are worth retrying (timeouts, 5xx, 429, refused connections).
    `too_long`: the provider refused the prompt as longer than the model's context window."""

    def __init__(self, message: str, *, transient: bool, status: int | None = None, too_long: bool = False) -> None:
        super().__init__(message[:ERROR_MAX])
        self.transient = transient
        self.status = status
        self.too_long = too_long


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
    return LLMError(scrub(message, provider), transient=transient, status=status, too_long=too_long)
