"""The account page (/account, any logged-in user): who you are, and changing your own password.

The password form is a native form posted to /api/auth/password/form: the passwords travel only
in that POST, never through the page's state (Reflex's forms send their data over the websocket
and a state var would be sent back to the browser). The server answers with a redirect back here,
carrying a short code (`?changed=1` or `?error=<code>`) that this page turns into a message.
"""

from __future__ import annotations

import reflex as rx

from remediation_app.components.native_form import native_form
from remediation_app.db import TRANSIENT_DB_ERRORS
from remediation_app.layout import layout
from remediation_app.services.auth import Forbidden
from remediation_app.services.users import MAX_PASSWORD, MIN_PASSWORD
from remediation_app.state import UNAVAILABLE, login_redirect, session_user

CHANGED = "Your password was changed. Your other sessions and API tokens were logged out."
ERRORS = {
    "invalid": "The current password is not correct.",
    "throttled": "Too many failed attempts. Try again later.",
    "busy": "The server is busy. Try again in a moment.",
    "missing": "Fill in all three fields.",
    "mismatch": "The new password and its repetition differ.",
    "short": f"The new password needs at least {MIN_PASSWORD} characters.",
    "long": f"The new password is longer than {MAX_PASSWORD} characters.",
    "characters": "The new password contains characters that cannot be used.",
    "same": "The new password must differ from the current one.",
    "input": "The form could not be read. Try again.",
    "unavailable": UNAVAILABLE,
}


class AccountState(rx.State):
    username: str = ""
    role: str = ""
    last_login: str = ""
    notice: str = ""
    error: str = ""

    def _forget(self) -> None:
        self.username, self.role, self.last_login, self.notice, self.error = "", "", "", "", ""

    @rx.event
    async def load(self):
        """Show the logged-in user (checked on the server) and the outcome of the last form post."""
        self._forget()
        try:
            user = await session_user(self)
        except Forbidden:
            return login_redirect(self.router.url.path)
        except TRANSIENT_DB_ERRORS:
            self.error = UNAVAILABLE
            return None
        self.username, self.role = user.username, user.role
        self.last_login = user.last_login_at.strftime("%Y-%m-%d %H:%M UTC") if user.last_login_at else "never"
        params = self.router.url.query_parameters
        self.notice = CHANGED if params.get("changed") == "1" else ""
        self.error = ERRORS.get(str(params.get("error", "")), "")
        return None


def _password_input(name: str, label: str, autocomplete: str, **props: object) -> rx.Component:
    return rx.vstack(
        rx.el.label(label, html_for=name),
        rx.input(
            name=name,
            id=name,
            type="password",
            required=True,
            max_length=MAX_PASSWORD,
            auto_complete=autocomplete,
            width="100%",
            **props,
        ),
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


def account_page() -> rx.Component:
    return layout(
        rx.cond(
            AccountState.notice != "",
            rx.callout(AccountState.notice, color_scheme="green", id="account-notice", margin_bottom="1em"),
        ),
        rx.cond(
            AccountState.error != "",
            rx.callout(AccountState.error, color_scheme="red", id="account-error", margin_bottom="1em"),
        ),
        rx.cond(AccountState.username != "", rx.fragment(_details(), _password_form())),
        title="Account",
    )
