"""The page frame: navigation bar (with the logged-in user and the theme) and content column.

From NAV_WIDE_PX the links are in the bar (wrapping onto a second line when they do not fit) with the
user and Log out at its right; below it (a phone, a narrow window) they are in a menu behind the
menu button, Log out included. The theme button picks light, dark or the system's preference (the
default); the choice is kept in the browser (localStorage) across reloads.

Admin links are shown to admins only; that is a convenience: every admin handler checks the role
on the server.
"""

from typing import Any

import reflex as rx

from remediation_app.components.native_form import native_form
from remediation_app.components.styles import PAGE_MAX_WIDTH
from remediation_app.state import AuthState

NAV_WIDE_PX = 1024
# (label, path, element id) in the bar's order; the menu's copies have ids "menu-<...>".
USER_LINKS = [
    ("Alerts", "/", "nav-alerts"),
    ("Incidents", "/incidents", "nav-incidents"),
    ("Reliability", "/reliability", "nav-reliability"),
    ("Terminal", "/terminal", "nav-terminal"),
]
ADMIN_LINKS = [
    ("Users", "/admin/users", "nav-users"),
    ("Rules", "/admin/rules", "nav-rules"),
    ("Audit log", "/admin/audit", "nav-audit"),
    ("Settings", "/admin/settings", "nav-settings"),
    ("LLM providers", "/admin/providers", "nav-providers"),
    ("Datasources", "/admin/datasources", "nav-datasources"),
    ("Alertmanagers", "/admin/alertmanagers", "nav-alertmanagers"),
    ("Notifications", "/admin/notifications", "nav-notifications"),
    ("Servers", "/admin/servers", "nav-servers"),
    ("Diagnostics policy", "/admin/diagnostics", "nav-diagnostics"),
    ("Sessions", "/admin/sessions", "nav-sessions"),
    ("Evaluations", "/admin/evals", "nav-evals"),
]


def _shown(from_wide: bool, display: str = "flex") -> dict[str, Any]:
    """Style props: shown from NAV_WIDE_PX (`from_wide`) or only below it."""
    narrow, wide = ("none", display) if from_wide else (display, "none")
    return {"display": rx.breakpoints(custom={"0px": narrow, f"{NAV_WIDE_PX}px": wide})}


def _links(prefix: str = "") -> rx.Component:
    """The navigation links; `prefix` names the menu's copies apart from the bar's."""

    def link(label: str, href: str, id: str) -> rx.Component:
        return rx.link(label, href=href, id=prefix + id, size="2", white_space="nowrap")

    return rx.fragment(
        rx.cond(AuthState.username != "", rx.fragment(*[link(*item) for item in USER_LINKS])),
        rx.cond(AuthState.is_admin, rx.fragment(*[link(*item) for item in ADMIN_LINKS])),
        rx.link("API docs", href="/docs", is_external=True, id=prefix + "nav-docs", size="2", white_space="nowrap"),
    )


def _logout(id: str) -> rx.Component:
    return native_form(
        rx.button("Log out", type="submit", variant="soft", size="1", id=id),
        action="/api/auth/logout",
        method="post",
        id=f"{id}-form",
    )


def _user_menu() -> rx.Component:
    return rx.hstack(
        rx.link(
            rx.text(AuthState.username, " (", AuthState.role, ")", size="2", id="current-user", white_space="nowrap"),
            href="/account",
            id="nav-account",
            title="Your account: change your password",
        ),
        _logout("logout"),
        align="center",
        spacing="3",
        **_shown(from_wide=True),
    )


def _menu() -> rx.Component:
    """Below NAV_WIDE_PX: every link, the account and Log out behind one button."""
    account = rx.link(
        rx.text(AuthState.username, " (", AuthState.role, ")", size="2"), href="/account", id="menu-nav-account"
    )
    return rx.box(
        rx.popover.root(
            rx.popover.trigger(
                rx.icon_button(rx.icon("menu"), variant="soft", size="2", id="nav-menu", aria_label="Menu"),
            ),
            rx.popover.content(
                rx.vstack(
                    _links("menu-"),
                    rx.cond(
                        AuthState.username != "",
                        rx.fragment(rx.separator(size="4"), account, _logout("menu-logout")),
                    ),
                    spacing="3",
                    id="nav-menu-content",
                ),
                align="end",
                max_width="calc(100vw - 2em)",
                # Stays open when focus moves elsewhere by itself (the theme menu hands it back to its
                # button as it closes); a click outside or Escape still closes it.
                on_focus_outside=rx.prevent_default,
            ),
        ),
        **_shown(from_wide=False, display="block"),
    )


def _bar() -> rx.Component:
    return rx.hstack(
        rx.link(rx.heading("Remediation Engine", size="4", white_space="nowrap"), href="/", underline="none"),
        rx.flex(
            _links(),
            spacing="4",
            row_gap="0",
            wrap="wrap",
            align="center",
            flex="1",
            min_width="0",
            **_shown(from_wide=True),
        ),
        rx.spacer(display=rx.breakpoints(custom={"0px": "block", f"{NAV_WIDE_PX}px": "none"})),
        rx.color_mode.button(allow_system=True, id="theme-toggle", size="2", aria_label="Theme"),
        rx.cond(AuthState.username != "", _user_menu()),
        _menu(),
        align="center",
        spacing="4",
        padding="0.5em 1em",
        border_bottom="1px solid var(--gray-a5)",
        width="100%",
    )


def layout(*children: rx.Component, title: str, wide: bool = False) -> rx.Component:
    """The page in its frame; `wide`: the content may use the whole window's width."""
    return rx.box(
        _bar(),
        rx.box(
            rx.heading(title, size="5", margin_bottom="0.5em"),
            rx.cond(
                AuthState.denied,
                rx.callout(
                    "That page is for admins only.", color_scheme="orange", id="denied-notice", margin_bottom="1em"
                ),
            ),
            *children,
            padding=rx.breakpoints(custom={"0px": "0.75em", "640px": "1em 1.5em"}),
            max_width="100%" if wide else PAGE_MAX_WIDTH,
            margin="0 auto",
        ),
    )
