"""The account page (/account, any logged-in user): who you are, and changing your own password.

The password form is a native form posted to /api/auth/password/form: the passwords travel only
in that POST, never through the page's state (Reflex's forms send their data over the websocket
and a state var would be sent back to the browser). The server answers with a redirect back here,
carrying a short code (`?changed=1` or `?error=<code>`) that the state turns into a message.
"""

from __future__ import annotations

import reflex as rx

from remediation_app.components.callouts import outcome
from remediation_app.components.forms import password_input
from remediation_app.components.native_form import native_form
from remediation_app.pages.account.account_state import AccountState
from remediation_app.pages.page import page
from remediation_app.services.users import MIN_PASSWORD


def _password_input(name: str, label: str, autocomplete: str, **props: object) -> rx.Component:
    return rx.vstack(
        rx.el.label(label, html_for=name),
        password_input(id=name, name=name, autocomplete=autocomplete, width="100%", **props),
        spacing="1",
        width="100%",
    )


def _details() -> rx.Component:
    return rx.data_list.root(
        rx.data_list.item(
            rx.data_list.label("Username"), rx.data_list.value(AccountState.username, id="account-username")
        ),
        rx.data_list.item(rx.data_list.label("Role"), rx.data_list.value(AccountState.role, id="account-role")),
        rx.data_list.item(
            rx.data_list.label("Last login"), rx.data_list.value(AccountState.last_login, id="account-last-login")
        ),
        margin_bottom="1.5em",
    )


def _password_form() -> rx.Component:
    return native_form(
        rx.vstack(
            rx.heading("Change password", size="4"),
            rx.text(
                f"At least {MIN_PASSWORD} characters. Every other session and API token of yours is logged out.",
                size="2",
                color_scheme="gray",
            ),
            _password_input("current_password", "Current password", "current-password"),
            _password_input("new_password", "New password", "new-password", min_length=MIN_PASSWORD),
            _password_input("repeat_password", "Repeat the new password", "new-password", min_length=MIN_PASSWORD),
            rx.button("Change password", type="submit", id="change-password-submit"),
            spacing="3",
            width="22em",
        ),
        action="/api/auth/password/form",
        method="post",
        id="change-password-form",
    )


@page("/account", "Account", role="user", on_load=AccountState.load)
def account_page() -> tuple[rx.Component, ...]:
    return (
        outcome(AccountState, "account"),
        rx.cond(AccountState.username != "", rx.fragment(_details(), _password_form())),
    )
