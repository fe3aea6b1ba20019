"""The login page: a plain form posted to /api/auth/login, which sets the HttpOnly session cookie."""

from __future__ import annotations

import reflex as rx

from remediation_app.components.native_form import native_form

MESSAGES = {
    "invalid": "Invalid username or password.",
    "throttled": "Too many failed attempts. Try again later.",
    "busy": "The server is busy. Try again in a moment.",
}


class LoginState(rx.State):
    message: str = ""
    next_path: str = "/"

    @rx.event
    async def read_query(self):
        # Whatever this tab showed before (another user's chat, an admin's lists) is forgotten here:
        # the next login in this tab starts from a clean state tree.
        root = await self.get_state(rx.State)
        root.reset()  # type: ignore[no-untyped-call]
        params = self.router.url.query_parameters
        self.message = MESSAGES.get(params.get("error", ""), "")
        target = params.get("next", "/")
        self.next_path = target if target.startswith("/") and not target.startswith("//") else "/"


def login_page() -> rx.Component:
    return rx.center(
        rx.card(
            native_form(
                rx.vstack(
                    rx.heading("Remediation Engine", size="6"),
                    rx.text("Sign in to continue.", color_scheme="gray"),
                    rx.cond(
                        LoginState.message != "",
                        rx.callout(LoginState.message, color_scheme="red", id="login-error", width="100%"),
                    ),
                    rx.input(
                        name="username",
                        placeholder="Username",
                        id="username",
                        required=True,
                        max_length=150,
                        auto_complete="username",
                        width="100%",
                    ),
                    rx.input(
                        name="password",
                        type="password",
                        placeholder="Password",
                        id="password",
                        required=True,
                        max_length=1024,
                        auto_complete="current-password",
                        width="100%",
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
