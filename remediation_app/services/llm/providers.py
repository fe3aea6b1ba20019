"""LLM providers: those an admin stored (API key encrypted, write-only) and the one from the environment."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.crypto import decrypt, encrypt, record_name
from remediation_app.models import LLMProvider, User, utcnow
from remediation_app.services.llm.client import check_connection
from remediation_app.services.llm.config import TOOL_CALLING_MODES, ProviderConfig
from remediation_app.services.llm.errors import LLMError
from remediation_app.services.records import ENV_ID, FieldError, Records, check_secret, columns
from remediation_app.settings import get_settings

ENV_PROVIDER_ID = ENV_ID
ENV_PROVIDER_NAME = "environment"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}$")
# provider/model as LiteLLM spells it: anthropic/claude-..., openai/gpt-..., ollama/llama3, gemini/...
MODEL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,254}$")
MAX_KEY = 4096
# What the browser sees of a provider as stored, or as configured by the environment (ProviderConfig).
SHOWN = ("id", "name", "model", "api_base", "temperature", "max_tokens", "timeout_s", "tool_calling", "local")


class ProviderError(FieldError):
    """A provider that cannot be saved; names the field."""


@dataclass
class ProviderInput:
    """A form's fields. api_key: None keeps the stored key, "" removes it, text replaces it."""

    name: str
    model: str
    api_base: str = ""
    api_key: str | None = None
    is_default: bool = False
    enabled: bool = True
    temperature: float = 0.2
    max_tokens: int = 1500
    timeout_s: float = 60.0
    tool_calling: str = "auto"
    local: bool = False


def _validate(data: ProviderInput) -> None:
    if not NAME_RE.match(data.name):
        raise ProviderError("name", "1-100 letters, digits, spaces, '.', '_' or '-', starting with a letter or digit")
    if data.name.strip().lower() == ENV_PROVIDER_NAME:
        raise ProviderError("name", f"{ENV_PROVIDER_NAME!r} is the provider from the environment")
    if not MODEL_RE.match(data.model):
        raise ProviderError("model", "a LiteLLM model string such as openai/gpt-4o-mini or ollama/llama3")
    if data.api_base and not re.match(r"^https?://[^\s/]+", data.api_base):
        raise ProviderError("api_base", "an http:// or https:// URL")
    if len(data.api_base) > 1024:
        raise ProviderError("api_base", "at most 1024 characters")
    check_secret(ProviderError, "api_key", data.api_key, MAX_KEY)
    if not (math.isfinite(data.temperature) and 0 <= data.temperature <= 2):
        raise ProviderError("temperature", "between 0 and 2")
    if not 16 <= data.max_tokens <= 200_000:
        raise ProviderError("max_tokens", "between 16 and 200000")
    if not (math.isfinite(data.timeout_s) and 1 <= data.timeout_s <= 3600):
        raise ProviderError("timeout_s", "between 1 and 3600 seconds")
    if data.tool_calling not in TOOL_CALLING_MODES:
        raise ProviderError("tool_calling", "one of " + ", ".join(TOOL_CALLING_MODES))


def env_provider() -> ProviderConfig | None:
    settings = get_settings()
    if not settings.llm_model:
        return None
    return ProviderConfig(
        id=ENV_PROVIDER_ID,
        name=ENV_PROVIDER_NAME,
        model=settings.llm_model,
        api_base=settings.llm_api_base or "",
        api_key=settings.llm_api_key.get_secret_value() if settings.llm_api_key else "",
        temperature=settings.llm_temperature,
        max_tokens=settings.llm_max_tokens,
        timeout_s=settings.llm_timeout_seconds,
        tool_calling=settings.llm_tool_calling,
        local=settings.llm_local,
    )


def _record(row: LLMProvider) -> str:
    return record_name(LLMProvider.__tablename__, row.id, f"LLM provider {row.name!r} API key")


def config_of(row: LLMProvider) -> ProviderConfig:
    """The call configuration (decrypts the key: DecryptionError names the record)."""
    assert row.id is not None
    return ProviderConfig(
        id=row.id,
        name=row.name,
        model=row.model,
        api_base=row.api_base,
        api_key=decrypt(row.api_key_ciphertext, record=_record(row)) if row.api_key_ciphertext else "",
        temperature=row.temperature,
        max_tokens=row.max_tokens,
        timeout_s=row.timeout_s,
        tool_calling=row.tool_calling,
        local=row.local,
    )


PROVIDERS = Records(LLMProvider, "provider", ProviderError, action="provider")


async def list_providers(session: AsyncSession) -> list[LLMProvider]:
    return await PROVIDERS.all(session)


def _vendor(model: str) -> str:
    return model.split("/", 1)[0].lower() if "/" in model else ""


async def default_provider_id(session: AsyncSession) -> int | None:
    """The id default_provider would pick, without decrypting anything (for listings)."""
    rows = [r for r in await list_providers(session) if r.enabled]
    marked = next((r for r in rows if r.is_default), None)
    if marked is not None:
        return marked.id
    if env_provider() is not None:
        return ENV_PROVIDER_ID
    return rows[0].id if rows else None


async def default_provider(session: AsyncSession) -> ProviderConfig | None:
    """The enabled provider marked default; else the environment's; else the first enabled one."""
    rows = [r for r in await list_providers(session) if r.enabled]
    marked = next((r for r in rows if r.is_default), None)
    if marked is not None:
        return config_of(marked)
    env = env_provider()
    if env is not None:
        return env
    return config_of(rows[0]) if rows else None


async def any_provider(session: AsyncSession) -> bool:
    """Is there anything to analyse with (an enabled stored provider or LLM_MODEL)?"""
    if env_provider() is not None:
        return True
    found = await session.exec(select(LLMProvider.id).where(col(LLMProvider.enabled)).limit(1))
    return found.first() is not None


class ProviderUnavailable(Exception):
    """The job's provider is gone or disabled: not worth retrying."""


async def resolve(session: AsyncSession, provider_id: int | None) -> ProviderConfig | None:
    """The configuration for a job: None when nothing is configured at all (the job waits)."""
    if provider_id is None:
        return await default_provider(session)
    if provider_id == ENV_PROVIDER_ID:
        env = env_provider()
        if env is None:
            raise ProviderUnavailable("the environment's provider is no longer configured (LLM_MODEL unset)")
        return env
    row = await session.get(LLMProvider, provider_id)
    if row is None:
        raise ProviderUnavailable(f"provider #{provider_id} was deleted")
    if not row.enabled:
        raise ProviderUnavailable(f"provider {row.name!r} is disabled")
    return config_of(row)


async def save_provider(
    session: AsyncSession, data: ProviderInput, *, provider_id: int | None, actor: User, address: str = ""
) -> LLMProvider:
    """Create (provider_id None) or update a provider, audited (the key redacted). The caller commits."""
    data.name, data.model, data.api_base = data.name.strip(), data.model.strip(), data.api_base.strip()
    _validate(data)
    if provider_id is None:
        row = LLMProvider(name=data.name, model=data.model, created_at=utcnow())
    else:
        row = await PROVIDERS.stored(session, provider_id)
    await PROVIDERS.check_name(session, data.name, provider_id)
    key_change = "kept"
    endpoint_moved = provider_id is not None and (
        row.api_base != data.api_base or _vendor(row.model) != _vendor(data.model)
    )
    if endpoint_moved and data.api_key is None and row.api_key_ciphertext:
        # Otherwise an admin (or a stolen admin session) could send the write-only key elsewhere.
        raise ProviderError("api_key", "the API base or the model's vendor changed: enter the API key again")
    if data.api_key is not None:
        row.api_key_ciphertext = encrypt(data.api_key) if data.api_key else ""
        key_change = "set" if data.api_key else "removed"
    row.name, row.model, row.api_base = data.name, data.model, data.api_base
    row.enabled, row.is_default = data.enabled, data.is_default and data.enabled
    row.temperature, row.max_tokens, row.timeout_s = data.temperature, data.max_tokens, data.timeout_s
    row.tool_calling, row.local = data.tool_calling, data.local
    row.updated_at, row.updated_by = utcnow(), actor.username
    await PROVIDERS.only_default(session, row)
    session.add(row)
    await session.flush()
    # "auth" says what happened to the key (set, kept, removed); audit redacts "*key*" fields.
    details = {
        **{k: v for k, v in provider_public(row).items() if k not in ("has_api_key", "source")},
        "auth": key_change,
    }
    PROVIDERS.audit_saved(session, row, created=provider_id is None, actor=actor, address=address, details=details)
    return row


async def delete_provider(session: AsyncSession, provider_id: int, *, actor: User, address: str = "") -> None:
    await PROVIDERS.delete(session, provider_id, actor=actor, address=address)


def provider_public(row: LLMProvider) -> dict[str, Any]:
    """The browser's view: never the key, only whether one is stored."""
    shown = columns(row, *SHOWN, "is_default", "enabled")
    return {**shown, "has_api_key": bool(row.api_key_ciphertext), "source": "database"}


def env_provider_public() -> dict[str, Any] | None:
    env = env_provider()
    if env is None:
        return None
    shown = columns(env, *SHOWN)
    return {**shown, "has_api_key": bool(env.api_key), "is_default": False, "enabled": True, "source": "environment"}


async def provider_choices(session: AsyncSession) -> tuple[list[dict[str, str]], str]:
    """The providers an analysis or a chat may use (label "name (model)") and the default one's id,
    without decrypting keys."""
    rows = [r for r in await list_providers(session) if r.enabled]
    choices = [{"id": str(r.id), "label": f"{r.name} ({r.model})"} for r in rows]
    env = env_provider_public()
    if env is not None:
        choices.insert(0, {"id": str(env["id"]), "label": f"{env['name']} ({env['model']})"})
    marked = next((str(r.id) for r in rows if r.is_default), "")
    return choices, marked or (choices[0]["id"] if choices else "")


async def providers_public(session: AsyncSession) -> list[dict[str, Any]]:
    """Every provider as the browser may see it: the environment's first (if set), then the stored ones."""
    stored = [provider_public(r) for r in await list_providers(session)]
    env = env_provider_public()
    return ([env] if env is not None else []) + stored


async def provider_test(provider_id: int) -> dict[str, Any]:
    """One tiny call; {"ok": true, ...} or {"ok": false, "error": the provider's exact error}.

    The API's "Test connection" and the providers page share it. The database session is closed
    before the call, which may take up to the provider's timeout.
    """
    config = await PROVIDERS.to_test(
        provider_id, env=env_provider, env_unset="LLM_MODEL is not set", config_of=config_of
    )
    if isinstance(config, str):
        return {"ok": False, "error": config}
    try:
        answer = await check_connection(config)
    except LLMError as exc:
        return {"ok": False, "error": str(exc), "status": exc.status}
    return {
        "ok": True,
        "model": answer.model,
        "latency_ms": answer.latency_ms,
        "reply": answer.text[:200],
        "prompt_tokens": answer.prompt_tokens,
        "completion_tokens": answer.completion_tokens,
    }
