"""Settings (admins only): the webhook bearer token as a write-only secret.

The page shows only whether a token is stored; the admin may replace it (a password input, sent
as the form's payload and never kept in a state var) or clear it. Changes go through
services.app_secrets, which stores the value encrypted and audits the change.
"""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex.event import EventSpec

from remediation_app.db import TRANSIENT_DB_ERRORS, async_session
from remediation_app.layout import layout
from remediation_app.models import User
from remediation_app.services import app_secrets
from remediation_app.state import admin_or_refusal, client_address

WEBHOOK_TOKEN = app_secrets.WEBHOOK_TOKEN
MAX_TOKEN = app_secrets.MAX_SECRET
UNAVAILABLE = "The database is unavailable; try again in a moment."


class AdminSettingsState(rx.State):
    webhook_token_set: bool = False
    loaded: bool = False
    error: str = ""
    notice: str = ""

    async def _admin(self) -> User | EventSpec:
        """The admin, or (after forgetting everything shown) the redirect refusing this tab."""
        outcome = await admin_or_refusal(self)
        if not isinstance(outcome, User):
            self.webhook_token_set, self.loaded, self.error, self.notice = False, False, "", ""
        return outcome

    async def _load(self) -> None:
        try:
            async with async_session() as session:
                status = await app_secrets.secret_status(session)
        except TRANSIENT_DB_ERRORS:
            self.loaded, self.error = False, UNAVAILABLE
            return
        self.webhook_token_set, self.loaded = bool(status.get(WEBHOOK_TOKEN)), True

    async def _store(self, actor: User, value: str | None, done: str) -> None:
        try:
            async with async_session() as session:
                await app_secrets.set_secret(
                    session, name=WEBHOOK_TOKEN, value=value, actor=actor, address=client_address(self)
                )
                await session.commit()
        except TRANSIENT_DB_ERRORS:
            self.error, self.notice = UNAVAILABLE, ""
        except ValueError as exc:  # refused by the service (its message never holds the value)
            self.error, self.notice = str(exc), ""
        else:
            self.error, self.notice = "", done
        await self._load()

    @rx.event
    async def load(self):
        if not isinstance(admin := await self._admin(), User):
            return admin
        self.error = self.notice = ""
        await self._load()
        return None

    @rx.event
    async def replace_webhook_token(self, form_data: dict[str, Any]):
        if not isinstance(admin := await self._admin(), User):
            return admin
        value = str(form_data.get(WEBHOOK_TOKEN, ""))
        if not value.strip():
            self.error, self.notice = "Enter the new token (or use Clear to remove it).", ""
            return None
        if len(value) > MAX_TOKEN:
            self.error, self.notice = f"The token is longer than {MAX_TOKEN} characters.", ""
            return None
        await self._store(admin, value, "The webhook token was replaced.")
        return None

    @rx.event
    async def clear_webhook_token(self):
        if not isinstance(admin := await self._admin(), User):
            return admin
        await self._store(admin, None, "The webhook token was cleared.")
        return None


def _webhook_token_card() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Webhook bearer token", size="4"),
            rx.text(
                app_secrets.KNOWN_SECRETS[WEBHOOK_TOKEN],
                " It is write-only: this page never shows it.",
                size="2",
                color_scheme="gray",
            ),
            rx.hstack(
                rx.text("Status:", size="2"),
                rx.cond(
                    AdminSettingsState.loaded,
                    rx.badge(
                        rx.cond(AdminSettingsState.webhook_token_set, "set", "not set"),
                        color_scheme=rx.cond(AdminSettingsState.webhook_token_set, "green", "gray"),
                        id="webhook-token-status",
                    ),
                    rx.badge("unknown", color_scheme="gray", id="webhook-token-status-unknown"),
                ),
                align="center",
                spacing="2",
            ),
            rx.form(
                rx.hstack(
                    rx.input(
                        name=WEBHOOK_TOKEN,
                        type="password",
                        placeholder="New token",
                        id="webhook-token-input",
                        required=True,
                        max_length=MAX_TOKEN,
                        auto_complete="new-password",
                        width="24em",
                    ),
                    rx.button("Replace", type="submit", id="webhook-token-save"),
                    spacing="3",
                    align="center",
                ),
                on_submit=AdminSettingsState.replace_webhook_token,
                reset_on_submit=True,
                id="webhook-token-form",
            ),
            rx.button(
                "Clear",
                on_click=AdminSettingsState.clear_webhook_token,
                disabled=~AdminSettingsState.webhook_token_set,
                variant="soft",
                color_scheme="red",
                id="webhook-token-clear",
            ),
            spacing="3",
        ),
        width="100%",
    )


def admin_settings_page() -> rx.Component:
    return layout(
        rx.cond(
            AdminSettingsState.error != "",
            rx.callout(AdminSettingsState.error, color_scheme="red", id="settings-error", margin_bottom="1em"),
        ),
        rx.cond(
            AdminSettingsState.notice != "",
            rx.callout(AdminSettingsState.notice, color_scheme="green", id="settings-notice", margin_bottom="1em"),
        ),
        _webhook_token_card(),
        title="Settings",
    )
