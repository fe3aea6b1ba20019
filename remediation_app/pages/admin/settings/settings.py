"""Settings (admins only): the webhook bearer token as a write-only secret.

The page shows only whether a token is stored; the admin may replace it (a password input, sent
as the form's payload and never kept in a state var) or clear it. The state is in settings_state.py.
"""

from __future__ import annotations

import reflex as rx

from remediation_app.components.callouts import message
from remediation_app.pages.admin.settings.settings_state import MAX_TOKEN, WEBHOOK_TOKEN, AdminSettingsState
from remediation_app.pages.page import page
from remediation_app.services import app_secrets


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


@page("/admin/settings", "Settings", role="admin", on_load=AdminSettingsState.load)
def admin_settings_page() -> tuple[rx.Component, ...]:
    return (
        message(AdminSettingsState.error, "red", id="settings-error", margin_bottom="1em"),
        message(AdminSettingsState.notice, "green", id="settings-notice", margin_bottom="1em"),
        _webhook_token_card(),
    )
