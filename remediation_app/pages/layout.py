"""The page frame: navigation bar (with the logged-in user) and content column.

Admin links are shown to admins only; that is a convenience: every admin handler checks the role
on the server.
"""

import reflex as rx

from remediation_app.components.native_form import native_form
from remediation_app.components.styles import PAGE_MAX_WIDTH
from remediation_app.state import AuthState


def _user_menu() -> rx.Component:
    return rx.hstack(
        rx.link(
            rx.text(AuthState.username, " (", AuthState.role, ")", size="2", id="current-user"),
            href="/account",
            id="nav-account",
            title="Your account: change your password",
        ),
        native_form(
            rx.button("Log out", type="submit", variant="soft", size="1", id="logout"),
            action="/api/auth/logout",
            method="post",
            id="logout-form",
        ),
        align="center",
        spacing="3",
    )


def layout(*children: rx.Component, title: str) -> rx.Component:
    return rx.box(
        rx.hstack(
            rx.link(rx.heading("Remediation Engine", size="5"), href="/", underline="none"),
            rx.spacer(),
            rx.link("Alerts", href="/"),
            rx.cond(AuthState.username != "", rx.link("Terminal", href="/terminal", id="nav-terminal")),
            rx.cond(
                AuthState.is_admin,
                rx.fragment(
                    rx.link("Users", href="/admin/users", id="nav-users"),
                    rx.link("Rules", href="/admin/rules", id="nav-rules"),
                    rx.link("Audit log", href="/admin/audit", id="nav-audit"),
                    rx.link("Settings", href="/admin/settings", id="nav-settings"),
                    rx.link("LLM providers", href="/admin/providers", id="nav-providers"),
                    rx.link("Datasources", href="/admin/datasources", id="nav-datasources"),
                    rx.link("Servers", href="/admin/servers", id="nav-servers"),
                    rx.link("Sessions", href="/admin/sessions", id="nav-sessions"),
                ),
            ),
            rx.link("API docs", href="/docs", is_external=True),
            rx.cond(AuthState.username != "", _user_menu()),
            align="center",
            spacing="5",
            padding="0.75em 1.5em",
            border_bottom="1px solid var(--gray-a5)",
        ),
        rx.box(
            rx.heading(title, size="6", margin_bottom="0.75em"),
            rx.cond(
                AuthState.denied,
                rx.callout(
                    "That page is for admins only.", color_scheme="orange", id="denied-notice", margin_bottom="1em"
                ),
            ),
            *children,
            padding="1.25em 1.5em",
            max_width=PAGE_MAX_WIDTH,
            margin="0 auto",
        ),
    )
