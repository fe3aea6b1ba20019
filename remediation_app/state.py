"""Shared state helpers; never imports pages.

Live pages follow the event bus with one background task per tab: `follow_events` calls the
page's refresh now and after every change event, until the tab closes or reloads the page.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import quote

import reflex as rx

from remediation_app.models import Role, User
from remediation_app.services.auth import SESSION_COOKIE, Forbidden, require_role, user_for_token
from remediation_app.services.events import bus

log = logging.getLogger(__name__)
# Per tab: opening or reloading a page starts a new generation and the older loop ends.
_generations: dict[str, int] = {}
LIVENESS_CHECK_S = 5.0
MIN_REFRESH_INTERVAL_S = 0.2


def _cookie(header: str, name: str) -> str | None:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except CookieError:
        return None
    morsel = jar.get(name)
    return morsel.value if morsel is not None else None


async def user_from_cookies(cookie_header: str, role: Role = Role.USER) -> User:
    """The logged-in user for a Cookie header, checked against the database; Forbidden if none."""
    return require_role(await user_for_token(_cookie(cookie_header, SESSION_COOKIE)), role)


async def session_user(state: rx.State, role: Role = Role.USER) -> User:
    """The logged-in user behind this tab, checked on the server on every call; Forbidden if none.

    The token is the HttpOnly cookie the browser sent when its socket connected (Reflex keeps request
    cookies on the server; they never reach the page's state). In a background task, read
    `state.router.headers.cookie` under the lock and call user_from_cookies outside it.
    """
    return await user_from_cookies(state.router.headers.cookie, role)


class AuthState(rx.State):
    """Who is logged in, for the navigation bar; the checks themselves happen in each handler."""

    username: str = ""
    role: str = ""

    @rx.var
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN.value

    async def _require(self, role: Role):
        try:
            user = await session_user(self, role)
        except Forbidden:
            known = await user_for_token(_cookie(self.router.headers.cookie, SESSION_COOKIE))
            self.username, self.role = (known.username, known.role) if known else ("", "")
            if known is not None:
                return rx.redirect("/?denied=1")
            return rx.redirect(f"/login?next={quote(self.router.url.path or '/', safe='/')}")
        self.username, self.role = user.username, user.role
        return None

    @rx.event
    async def require_login(self):
        return await self._require(Role.USER)

    @rx.event
    async def require_admin(self):
        return await self._require(Role.ADMIN)


def _tab_connected(token: str) -> bool:
    from reflex.utils.prerequisites import get_app

    namespace = get_app().app.event_namespace
    return namespace is None or token in namespace.token_to_sid


async def _refresh_or_log(refresh: Callable[[], Awaitable[None]]) -> None:
    """A refresh that fails unexpectedly is logged; the tab keeps following (the next change retries)."""
    try:
        await refresh()
    except Forbidden:
        raise
    except Exception:
        log.exception("live page refresh failed; the page keeps following changes")


async def follow_events(
    state: rx.State,
    refresh: Callable[[], Awaitable[None]],
    wants: Callable[[dict[str, Any]], bool] = lambda _event: True,
) -> None:
    token = state.router.session.client_token
    generation = _generations[token] = _generations.get(token, 0) + 1
    loop = asyncio.get_running_loop()
    with bus.subscribe() as queue:
        try:
            await _refresh_or_log(refresh)
            last_refresh = loop.time()
            while _generations.get(token) == generation:
                try:
                    event = await asyncio.wait_for(queue.get(), timeout=LIVENESS_CHECK_S)
                except TimeoutError:
                    if not _tab_connected(token):
                        break
                    continue
                # The first change after a quiet spell shows at once; a burst is folded into one
                # refresh per MIN_REFRESH_INTERVAL_S.
                wait = last_refresh + MIN_REFRESH_INTERVAL_S - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                relevant = wants(event)
                while not queue.empty():
                    relevant = wants(queue.get_nowait()) or relevant
                if relevant and _generations.get(token) == generation:
                    await _refresh_or_log(refresh)
                    last_refresh = loop.time()
        except Forbidden:
            pass  # logged out or revoked: the page stops following
        finally:
            if _generations.get(token) == generation:
                _generations.pop(token, None)
