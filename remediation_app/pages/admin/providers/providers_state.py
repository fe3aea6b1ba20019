"""The LLM providers page's state (admins only): list, add, edit, delete, and test a connection.

Every handler checks the admin on the server first (AdminState). The API key is write-only: it
arrives in the form's payload, goes straight to services.llm.providers (which encrypts it) and is never
kept in a state var; the page only knows whether a key is stored. An empty key field on edit keeps
the stored key, "remove stored key" removes it. The provider from the environment (LLM_MODEL) is
listed read-only and can be tested.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import reflex as rx
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.models import LLMProvider, User
from remediation_app.pages.admin.kit_state import ConnectionTestState, checked, form_flags
from remediation_app.services.llm import providers
from remediation_app.services.records import Records

FIELDS = ("name", "model", "api_base", "temperature", "max_tokens", "timeout_s", "tool_calling")


def _blank_form() -> dict[str, str]:
    return {
        **dict.fromkeys(("name", "model", "api_base", "is_default", "has_api_key", "local"), ""),
        "tool_calling": "auto",
        "temperature": "0.2",
        "max_tokens": "1500",
        "timeout_s": "60",
        "enabled": "true",
    }


def _row(public: dict[str, Any]) -> dict[str, str]:
    return {
        **{k: str(public[k]) for k in ("id", "name", "model", "max_tokens", "tool_calling", "source")},
        "api_base": str(public["api_base"] or ""),
        "has_api_key": "yes" if public["has_api_key"] else "no",
        "is_default": "yes" if public["is_default"] else "",
        "enabled": "yes" if public["enabled"] else "no",
        "local": "yes" if public["local"] else "no",
        "temperature": f"{public['temperature']:g}",
        "timeout_s": f"{public['timeout_s']:g}",
    }


def _number(form_data: dict[str, Any], field: str, kind: type[int] | type[float]) -> int | float:
    raw = str(form_data.get(field, "")).strip()
    try:
        value = kind(raw)
    except ValueError:
        raise providers.ProviderError(field, "a number" if kind is float else "a whole number") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise providers.ProviderError(field, "a finite number")
    return value


def provider_input(form_data: dict[str, Any], *, editing: bool) -> providers.ProviderInput:
    """The service's input from the form (ProviderError for a field that is not a number)."""
    key = str(form_data.get("api_key", ""))
    remove = checked(form_data.get("remove_api_key"))
    if key and remove:
        raise providers.ProviderError("api_key", "type a new key or tick 'remove stored key', not both")
    api_key: str | None = "" if remove else (key or None)
    if not editing and api_key == "":
        api_key = None
    return providers.ProviderInput(
        name=str(form_data.get("name", "")),
        model=str(form_data.get("model", "")),
        api_base=str(form_data.get("api_base", "")),
        api_key=api_key,
        is_default=checked(form_data.get("is_default")),
        enabled=checked(form_data.get("enabled")),
        temperature=float(_number(form_data, "temperature", float)),
        max_tokens=int(_number(form_data, "max_tokens", int)),
        timeout_s=float(_number(form_data, "timeout_s", float)),
        tool_calling=str(form_data.get("tool_calling", "auto")),
        local=checked(form_data.get("local")),
    )


def _passed(outcome: dict[str, Any]) -> str:
    return f"OK in {outcome.get('latency_ms')} ms ({outcome.get('model')}): {outcome.get('reply')!r}"


class AdminProvidersState(ConnectionTestState, rx.State):
    records: ClassVar[Records[LLMProvider]] = providers.PROVIDERS
    form: dict[str, str] = _blank_form()

    async def _list_rows(self, session: AsyncSession) -> list[dict[str, str]]:
        return [_row(p) for p in await providers.providers_public(session)]

    def _form_of(self, row: LLMProvider) -> dict[str, str]:
        public = providers.provider_public(row)
        shown = _row(public)
        return {**{k: shown[k] for k in FIELDS}, **form_flags(public, "is_default", "enabled", "local", "has_api_key")}

    async def _save_stored(
        self, session: AsyncSession, form_data: dict[str, Any], row_id: int | None, admin: User, address: str
    ) -> str:
        data = provider_input(form_data, editing=row_id is not None)
        row = await providers.save_provider(session, data, provider_id=row_id, actor=admin, address=address)
        return row.name

    @rx.event(background=True)
    async def test_provider(self, provider_id: str):
        """One tiny call (id 0: the environment's provider)."""
        await self._test_connection(provider_id, providers.provider_test, _passed)
