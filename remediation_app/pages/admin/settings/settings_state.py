"""The settings page's state (admins only): whether a webhook bearer token is stored; replace or clear it.

The token is write-only: it arrives in the form's payload, goes straight to services.app_secrets
(which stores it encrypted and audits the change) and is never kept in a state var. Every handler
checks the admin on the server (AdminState).
"""

from __future__ import annotations

from typing import Any

import reflex as rx
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.db import TRANSIENT_DB_ERRORS, async_session
from remediation_app.models import User
from remediation_app.pages.admin.kit_state import AdminState
from remediation_app.services import app_secrets
from remediation_app.state import UNAVAILABLE

WEBHOOK_TOKEN = app_secrets.WEBHOOK_TOKEN
MAX_TOKEN = app_secrets.MAX_SECRET


class AdminSettingsState(AdminState, rx.State):
    webhook_token_set: bool = False
    loaded: bool = False

    async def _load(self) -> None:
        try:
            async with async_session() as session:
                status = await app_secrets.secret_status(session)
        except TRANSIENT_DB_ERRORS:
            self.loaded, self.error = False, UNAVAILABLE
            return
        self.webhook_token_set, self.loaded = bool(status.get(WEBHOOK_TOKEN)), True

    async def _store(self, value: str | None, done: str) -> None:
        async def change(session: AsyncSession, actor: User, address: str) -> str:
            await app_secrets.set_secret(session, name=WEBHOOK_TOKEN, value=value, actor=actor, address=address)
            return done

        # A ValueError is the service's refusal: its message never holds the value.
        await self._apply(change, refused=(ValueError,))
        await self._load()

    @rx.event
    async def replace_webhook_token(self, form_data: dict[str, Any]):
        value = str(form_data.get(WEBHOOK_TOKEN, ""))
        if not value.strip():
            self._fail("Enter the new token (or use Clear to remove it).")
            return
        if len(value) > MAX_TOKEN:
            self._fail(f"The token is longer than {MAX_TOKEN} characters.")
            return
        await self._store(value, "The webhook token was replaced.")

    @rx.event
    async def clear_webhook_token(self):
        await self._store(None, "The webhook token was cleared.")
