"""`@page`: a page's route, title, role and on_load in one place, beside its view.

    @page("/admin/users", "Users", role="admin", on_load=AdminUsersState.load)
    def admin_users_page() -> rx.Component: ...

The view returns the page's content (a component or a tuple of them); `@page` puts it in the frame
(pages/layout.py) under the title, unless `framed=False` (the login page draws its own). `wide=True`
lets the content use the whole width of the window (the board); otherwise it is centred within
PAGE_MAX_WIDTH (components/styles.py).

The document title is "<title> · Remediation Engine". A page whose title depends on what it shows
passes `title_var`, a state var (str) with the first part: "(3) Alerts" on the board, the alert's
name on an alert page. While that var is empty the page's `title` is used:

    @page("/alerts/[alert_id]", "Alert", role="user", on_load=..., title_var=AlertPageState.alertname)

`window_title(title_var, title)` gives that document title as a Var, for anything else that shows it.

`role="user"` runs AuthState.require_login first on load, `role="admin"` AuthState.require_admin:
both only redirect a tab that may not see the page, the checks that matter are in every handler.
remediation_app.py registers the pages with `add_pages`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import reflex as rx
from reflex.event import EventHandler

from remediation_app.pages.layout import layout
from remediation_app.state import AuthState

APP_TITLE = "Remediation Engine"
Role = Literal["user", "admin"] | None
# A view returns the page's content: one component, or several (each a child of the frame's column).
View = Callable[[], rx.Component | tuple[rx.Component, ...]]


@dataclass(frozen=True)
class Page:
    route: str
    title: str
    render: Callable[[], rx.Component]  # the view in its frame (named after the view, for Reflex's messages)
    on_load: tuple[EventHandler, ...]
    title_var: rx.Var[str] | None = None


def window_title(title_var: rx.Var[str] | None, title: str) -> str | rx.Var[str]:
    """The document title: "<title_var> · Remediation Engine", or "<title> · ..." while it is empty."""
    fixed = f"{title} · {APP_TITLE}"
    if title_var is None:
        return fixed
    return rx.cond(title_var != "", title_var.to(str) + f" · {APP_TITLE}", fixed).to(str)


def page(
    route: str,
    title: str,
    *,
    role: Role = None,
    on_load: EventHandler | Sequence[Any] = (),
    framed: bool = True,
    title_var: rx.Var[str] | None = None,
    wide: bool = False,
) -> Callable[[View], Page]:
    guard = {None: (), "user": (AuthState.require_login,), "admin": (AuthState.require_admin,)}[role]
    loads = (on_load,) if isinstance(on_load, EventHandler) else tuple(on_load)

    def register(view: View) -> Page:
        @functools.wraps(view)
        def render() -> rx.Component:
            content = view()
            children = content if isinstance(content, tuple) else (content,)
            if not framed:
                return rx.fragment(*children) if isinstance(content, tuple) else content
            return layout(*children, title=title, wide=wide)

        return Page(route=route, title=title, render=render, on_load=(*guard, *loads), title_var=title_var)

    return register


def add_pages(app: rx.App, *pages: Page) -> None:
    for p in pages:
        on_load: Any = list(p.on_load) or None
        app.add_page(p.render, route=p.route, title=window_title(p.title_var, p.title), on_load=on_load)
