"""Settings (admins only): the webhook bearer token as a write-only secret.

The page shows only whether a token is stored; the admin may replace it (a password input, sent
as the form's payload and never kept in a state var) or clear it. The state is in settings_state.py.
"""

from __future__ import annotations

import reflex as rx

from remediation_app.components.callouts import outcome
from remediation_app.components.forms import inline_form
from remediation_app.components.panels import card
from remediation_app.pages.admin.settings.settings_state import MAX_TOKEN, WEBHOOK_TOKEN, AdminSettingsState
from remediation_app.pages.page import page
from remediation_app.services import app_secrets


def _webhook_token_card() -> rx.Component:
    s = AdminSettingsState
    return card(
        "Webhook bearer token",
        rx.hstack(
            rx.text("Status:", size="2"),
            rx.cond(
                s.loaded,
                rx.badge(
                    rx.cond(s.webhook_token_set, "set", "not set"),
                    color_scheme=rx.cond(s.webhook_token_set, "green", "gray"),
                    id="webhook-token-status",
                ),
                rx.badge("unknown", color_scheme="gray", id="webhook-token-status-unknown"),
            ),
            align="center",
            spacing="2",
        ),
        inline_form(
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
            on_submit=s.replace_webhook_token,
            id="webhook-token-form",
        ),
        rx.button(
            "Clear",
            on_click=s.clear_webhook_token,
            disabled=~s.webhook_token_set,
            variant="soft",
            color_scheme="red",
            id="webhook-token-clear",
        ),
        intro=(app_secrets.KNOWN_SECRETS[WEBHOOK_TOKEN], " It is write-only: this page never shows it."),
    )


@page("/admin/settings", "Settings", role="admin", on_load=AdminSettingsState.load)
def admin_settings_page() -> tuple[rx.Component, ...]:
    return (outcome(AdminSettingsState, "settings"), _webhook_token_card())
