"""The LLM providers page's state (admins only): list, add, edit, delete, and test a connection.

Every handler checks the admin on the server first. The API key is write-only: it arrives in the
form's payload, goes straight to services.providers (which encrypts it) and is never kept in a
state var; the page only knows whether a key is stored. An empty key field on edit keeps the stored
key, "remove stored key" removes it. The provider from the environment (LLM_MODEL) is listed
read-only and can be tested.
"""

from __future__ import annotations

import math
from typing import Any

import reflex as rx
import sqlalchemy as sa
from reflex.event import EventSpec

from remediation_app.api.providers import provider_test
from remediation_app.db import TRANSIENT_DB_ERRORS, async_session
from remediation_app.models import LLMProvider, User
from remediation_app.services import providers
from remediation_app.state import admin_or_refusal, admin_outside_lock, client_address

UNAVAILABLE = "The database is unavailable; try again in a moment."
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


def _provider_id(value: object) -> int | None:
    text = str(value)
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 10 else None


def _checked(value: object) -> bool:
    return value is True or str(value).lower() in ("on", "true", "1", "yes")


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
    remove = _checked(form_data.get("remove_api_key"))
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
        is_default=_checked(form_data.get("is_default")),
        enabled=_checked(form_data.get("enabled")),
        temperature=float(_number(form_data, "temperature", float)),
        max_tokens=int(_number(form_data, "max_tokens", int)),
        timeout_s=float(_number(form_data, "timeout_s", float)),
    )


class AdminProvidersState(rx.State):
    rows: list[dict[str, str]] = []
    loaded: bool = False
    error: str = ""
    notice: str = ""
    # The form: "" adds a provider, else the id of the one being edited. Never holds a key.
    editing_id: str = ""
    form: dict[str, str] = _blank_form()
    form_key: int = 0
    # Connection test outcomes by provider id: (status, message), merged into rows at each load.
    _tests: dict[str, tuple[str, str]] = {}

    def _forget(self) -> None:
        self.rows, self.loaded, self.error, self.notice = [], False, "", ""
        self.editing_id, self.form, self._tests = "", _blank_form(), {}

    async def _admin(self) -> User | EventSpec:
        """The admin, or (after forgetting everything shown) the redirect refusing this tab."""
        outcome = await admin_or_refusal(self)
        if not isinstance(outcome, User):
            self._forget()
        return outcome

    def _merge_tests(self) -> None:
        rows = []
        for row in self.rows:
            status, message = self._tests.get(row["id"], ("", ""))
            rows.append({**row, "test_status": status, "test_message": message})
        self.rows = rows

    async def _reload(self) -> None:
        try:
            async with async_session() as session:
                stored = [providers.provider_public(r) for r in await providers.list_providers(session)]
        except TRANSIENT_DB_ERRORS:
            self.rows, self.loaded, self.error = [], False, UNAVAILABLE
            return
        env = providers.env_provider_public()
        self.rows = [_row(p) for p in ([env] if env else []) + stored]
        self.loaded = True
        self._merge_tests()

    def _reset_form(self) -> None:
        self.editing_id, self.form, self.form_key = "", _blank_form(), self.form_key + 1

    @rx.event
    async def load(self):
        if not isinstance(admin := await self._admin(), User):
            return admin
        self.error = self.notice = ""
        self._reset_form()
        await self._reload()
        return None

    @rx.event
    async def start_edit(self, provider_id: str):
        if not isinstance(admin := await self._admin(), User):
            return admin
        wanted = _provider_id(provider_id)
        try:
            async with async_session() as session:
                row = await session.get(LLMProvider, wanted) if wanted else None
        except TRANSIENT_DB_ERRORS:
            self.error, self.notice = UNAVAILABLE, ""
            return None
        if row is None:
            self.error, self.notice = "No such provider (deleted meanwhile?).", ""
            await self._reload()
            return None
        public = _row(providers.provider_public(row))
        self.form = {
            **{k: public[k] for k in FIELDS},
            "is_default": "true" if row.is_default else "",
            "enabled": "true" if row.enabled else "",
            "has_api_key": "true" if row.api_key_ciphertext else "",
        }
        self.editing_id, self.form_key = str(row.id), self.form_key + 1
        self.error = self.notice = ""
        return None

    @rx.event
    async def cancel_edit(self):
        if not isinstance(admin := await self._admin(), User):
            return admin
        self._reset_form()
        self.error = ""
        return None

    @rx.event
    async def save_provider(self, form_data: dict[str, Any]):
        if not isinstance(admin := await self._admin(), User):
            return admin
        provider_id = _provider_id(self.editing_id) if self.editing_id else None
        try:
            data = provider_input(form_data, editing=provider_id is not None)
            async with async_session() as session:
                row = await providers.save_provider(
                    session, data, provider_id=provider_id, actor=admin, address=client_address(self)
                )
                await session.commit()
                name = row.name
        except providers.ProviderError as exc:  # its message names the field, never the key
            self.error, self.notice = str(exc), ""
            return None
        except sa.exc.IntegrityError:
            self.error, self.notice = "name: a provider with that name exists", ""
            return None
        except TRANSIENT_DB_ERRORS:
            self.error, self.notice = UNAVAILABLE, ""
            return None
        self.error, self.notice = "", f"Saved provider {name}."
        self._tests = {k: v for k, v in self._tests.items() if k != str(provider_id)}
        self._reset_form()
        await self._reload()
        return None

    @rx.event
    async def delete_provider(self, provider_id: str):
        if not isinstance(admin := await self._admin(), User):
            return admin
        wanted = _provider_id(provider_id)
        try:
            async with async_session() as session:
                if not wanted:
                    raise providers.ProviderError("id", "no such provider")
                await providers.delete_provider(session, wanted, actor=admin, address=client_address(self))
                await session.commit()
        except providers.ProviderError as exc:
            self.error, self.notice = str(exc), ""
        except TRANSIENT_DB_ERRORS:
            self.error, self.notice = UNAVAILABLE, ""
        else:
            self.error, self.notice = "", "Provider deleted."
            self._tests = {k: v for k, v in self._tests.items() if k != str(wanted)}
            if self.editing_id == str(wanted):
                self._reset_form()
        await self._reload()
        return None

    @rx.event(background=True)
    async def test_provider(self, provider_id: str):
        """One tiny call, outside the state lock (it may take up to the provider's timeout)."""
        checked = await admin_outside_lock(self)
        async with self:
            if checked is None:
                return await self._admin()  # refuses the tab (and forgets what it showed)
            wanted = _provider_id(provider_id)
            if wanted is None:
                return None
            self._tests = {**self._tests, str(wanted): ("testing", "Testing…")}
            self._merge_tests()
        try:
            outcome = await provider_test(wanted)
        except TRANSIENT_DB_ERRORS:
            outcome = {"ok": False, "error": UNAVAILABLE}
        if outcome.get("ok"):
            result = ("ok", f"OK in {outcome.get('latency_ms')} ms ({outcome.get('model')}): {outcome.get('reply')!r}")
        else:
            result = ("failed", str(outcome.get("error") or "failed"))
        async with self:
            self._tests = {**self._tests, str(wanted): result}
            self._merge_tests()
        return None
