"""The login page: a plain form posted to /api/auth/login, which sets the HttpOnly session cookie.
The state is in login_state.py."""

from __future__ import annotations

import reflex as rx

from remediation_app.components.callouts import message
from remediation_app.components.forms import password_input, username_input
from remediation_app.components.native_form import native_form
from remediation_app.pages.login.login_state import LoginState
from remediation_app.pages.page import page


@page("/login", "Sign in", on_load=LoginState.read_query, framed=False)
def login_page() -> rx.Component:
    return rx.center(
        rx.card(
            native_form(
                rx.vstack(
                    rx.heading("Remediation Engine", size="6"),
                    rx.text("Sign in to continue.", color_scheme="gray"),
                    message(LoginState.message, "red", id="login-error", width="100%"),
                    username_input(id="username", autocomplete="username", width="100%"),
                    password_input(
                        id="password", autocomplete="current-password", placeholder="Password", width="100%"
                    ),
                    rx.el.input(type="hidden", name="next", value=LoginState.next_path),
                    rx.button("Sign in", type="submit", id="login-submit", width="100%"),
                    spacing="3",
                    width="20em",
                ),
                action="/api/auth/login",
                method="post",
                id="login-form",
            ),
        ),
        height="100vh",
    )
