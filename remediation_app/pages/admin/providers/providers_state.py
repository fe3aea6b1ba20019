"""The LLM providers page's state (admins only): list, add, edit, delete, and test a connection.

Every handler checks the admin on the server first (AdminState). The API key is write-only: it
arrives in the form's payload, goes straight to services.providers (which encrypts it) and is never
kept in a state var; the page only knows whether a key is stored. An empty key field on edit keeps
the stored key, "remove stored key" removes it. The provider from the environment (LLM_MODEL) is
listed read-only and can be tested.
"""

from __future__ import annotations

import math
from typing import Any

import reflex as rx
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.db import TRANSIENT_DB_ERRORS
from remediation_app.models import LLMProvider, User
from remediation_app.pages.admin.kit_state import CrudState, checked
from remediation_app.services import providers
from remediation_app.state import UNAVAILABLE, form_id

FIELDS = ("name", "model", "api_base", "temperature", "max_tokens", "timeout_s")


def _blank_form() -> dict[str, str]:
    return {
        "name": "",
        "model": "",
        "api_base": "",
        "temperature": "0.2",
        "max_tokens": "1500",
        "timeout_s": "60",
        "is_default": "",
        "enabled": "true",
        "has_api_key": "",
    }


def _row(public: dict[str, Any]) -> dict[str, str]:
    return {
        "id": str(public["id"]),
        "name": str(public["name"]),
        "model": str(public["model"]),
        "api_base": str(public["api_base"] or ""),
        "has_api_key": "yes" if public["has_api_key"] else "no",
        "is_default": "yes" if public["is_default"] else "",
        "enabled": "yes" if public["enabled"] else "no",
        "temperature": f"{public['temperature']:g}",
        "max_tokens": str(public["max_tokens"]),
        "timeout_s": f"{public['timeout_s']:g}",
        "source": str(public["source"]),
        "test_status": "",
        "test_message": "",
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
    )


class AdminProvidersState(CrudState, rx.State):
    form: dict[str, str] = _blank_form()
    # Connection test outcomes by provider id: (status, message), shown in the rows at each load.
    _tests: dict[str, tuple[str, str]] = {}

    async def _list_rows(self, session: AsyncSession) -> list[dict[str, str]]:
        return [_row(p) for p in await providers.providers_public(session)]

    async def _edit_form(self, session: AsyncSession, row_id: int) -> dict[str, str] | None:
        row = await session.get(LLMProvider, row_id)
        if row is None:
            return None
        public = _row(providers.provider_public(row))
        return {
            **{k: public[k] for k in FIELDS},
            "is_default": "true" if row.is_default else "",
            "enabled": "true" if row.enabled else "",
            "has_api_key": "true" if row.api_key_ciphertext else "",
        }

    def _noun(self) -> str:
        return "provider"

    def _refusal(self) -> type[Exception]:
        return providers.ProviderError

    async def _save_row(
        self, session: AsyncSession, form_data: dict[str, Any], row_id: int | None, admin: User, address: str
    ) -> str:
        data = provider_input(form_data, editing=row_id is not None)
        row = await providers.save_provider(session, data, provider_id=row_id, actor=admin, address=address)
        return row.name

    async def _delete_stored(self, session: AsyncSession, row_id: int, admin: User, address: str) -> None:
        await providers.delete_provider(session, row_id, actor=admin, address=address)

    def _extras(self, row_id: str) -> dict[str, str]:
        status, message = self._tests.get(row_id, ("", ""))
        return {"test_status": status, "test_message": message}

    def _drop_extras(self, row_id: str) -> None:
        self._tests = {k: v for k, v in self._tests.items() if k != row_id}

    @rx.event
    async def save_provider(self, form_data: dict[str, Any]):
        await self._save_form(form_data)

    @rx.event
    async def delete_provider(self, provider_id: str):
        await self._delete_row(provider_id)

    @rx.event(background=True)
    async def test_provider(self, provider_id: str):
        """One tiny call, outside the state lock (it may take up to the provider's timeout)."""
        wanted = form_id(provider_id)  # 0 is the environment's provider
        if wanted is None:
            return
        async with self:
            self._tests = {**self._tests, str(wanted): ("testing", "Testing…")}
            self._show_extras()
        try:
            outcome = await providers.provider_test(wanted)
        except TRANSIENT_DB_ERRORS:
            outcome = {"ok": False, "error": UNAVAILABLE}
        if outcome.get("ok"):
            result = ("ok", f"OK in {outcome.get('latency_ms')} ms ({outcome.get('model')}): {outcome.get('reply')!r}")
        else:
            result = ("failed", str(outcome.get("error") or "failed"))
        async with self:
            self._tests = {**self._tests, str(wanted): result}
            self._show_extras()
