"""Shared state helpers for pages and components; never imports them (nor the API).

Live pages follow the event bus with one background task per tab: `follow_events` calls the
page's refresh now and after every change event, until the tab closes or reloads the page. It also
checks the tab's login every few seconds and whenever a user changes (USERS_TOPIC): a tab whose
login is gone (logout, deactivation, role change, expiry) is sent to the login page.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import quote

import reflex as rx
from reflex.event import Event, EventSpec

from remediation_app.db import TRANSIENT_DB_ERRORS
from remediation_app.models import Role, User
from remediation_app.services import security
from remediation_app.services.auth import SESSION_COOKIE, Forbidden, require_role, user_for_token
from remediation_app.services.events import bus
from remediation_app.services.llm import chat

log = logging.getLogger(__name__)
# Per tab: opening or reloading a page starts a new generation and the older loop ends.
_generations: dict[str, int] = {}
LIVENESS_CHECK_S = 5.0
MIN_REFRESH_INTERVAL_S = 0.2
# Published (after commit) when a user's role, activity or password changes: live tabs re-check their login.
USERS_TOPIC = "users"
MAX_ID = 2**31 - 1  # ids are INTEGER columns: PostgreSQL refuses a larger parameter
UNAVAILABLE = "The database is unavailable; try again in a moment."
# A live page says this instead: it loads again by itself at the next change.
UNAVAILABLE_RETRYING = "The database is unavailable; retrying on the next change."


def parse_id(value: object) -> int | None:
    """An id as a page sent it (a route argument, a button's argument, a form field, a picked
    option): ASCII digits up to MAX_ID, else None. Callers that know no row 0 use `parse_id(v) or 0`."""
    text = str(value)
    if not (text.isascii() and text.isdigit() and len(text) <= len(str(MAX_ID))):
        return None
    number = int(text)
    return number if number <= MAX_ID else None


def route_alert_id(state: rx.State) -> int:
    """The id in the URL (/alerts/<id>), or 0 when it cannot be an alert's id."""
    # Reflex adds each dynamic route argument to the state tree as a var of the same name.
    return parse_id(getattr(state, "alert_id", "")) or 0


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


def login_redirect(path: str) -> EventSpec:
    return rx.redirect(f"/login?next={quote(path or '/', safe='/')}")


async def refusal(state: rx.State) -> EventSpec:
    """Where a refused tab goes: the dashboard (with a notice) if it is logged in but lacks the
    role, else the login page (coming back here afterwards)."""
    known = await user_for_token(_cookie(state.router.headers.cookie, SESSION_COOKIE))
    if known is not None:
        return rx.redirect("/?denied=1")
    return login_redirect(state.router.url.path)


async def admin_outside_lock(state: rx.State) -> User | None:
    """For background tasks: the admin behind this tab, checked without holding the state lock (the
    cookie is read under it); None when the tab is not an admin's (refuse it under the lock then)."""
    async with state:
        cookies = state.router.headers.cookie
    try:
        return await user_from_cookies(cookies, Role.ADMIN)
    except Forbidden:
        return None


async def admin_or_refusal(state: rx.State) -> User | EventSpec:
    """The admin behind this tab (checked on the server now), or the redirect that refuses the tab.

    For ordinary (locked) handlers: the caller forgets what it showed before returning the redirect.
    """
    try:
        return await session_user(state, Role.ADMIN)
    except Forbidden:
        return await refusal(state)


def client_address(state: rx.State) -> str:
    """The address of the browser behind this tab, for the audit log.

    The socket's handshake headers and peer address, as Reflex recorded them when it connected
    (X-Forwarded-For only with TRUST_PROXY_HEADERS=true).
    """
    router = state.router
    return security.client_address(
        peer=router.session.client_ip, forwarded_for=router.headers.raw_headers.get("x-forwarded-for")
    )


class ProviderChoiceState(rx.State, mixin=True):
    """The LLM provider a tab picked (for an analysis, or a question), among those it was shown."""

    choices: list[dict[str, str]] = []  # {"id", "label"}
    choice: str = ""

    def _show_choices(self, choices: list[dict[str, str]], default_choice: str) -> None:
        """The choices now; the pick stays if it is still one of them, else the default."""
        self.choices = choices
        if self.choice not in {c["id"] for c in choices}:
            self.choice = default_choice

    def _provider_id(self) -> int | None:
        return parse_id(self.choice)

    @rx.event
    def choose_provider(self, value: str):
        """Only picks among the listed providers (the button that uses it checks the login)."""
        if value in {c["id"] for c in self.choices}:
            self.choice = value


class AuthState(rx.State):
    """Who is logged in, for the navigation bar; the checks themselves happen in each handler."""

    username: str = ""
    role: str = ""
    # The last page refused this tab for its role (shown once on the dashboard).
    denied: bool = False

    @rx.var
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN.value

    async def _require(self, role: Role):
        try:
            user = await session_user(self, role)
        except Forbidden:
            known = await user_for_token(_cookie(self.router.headers.cookie, SESSION_COOKIE))
            self.username, self.role = (known.username, known.role) if known else ("", "")
            self.denied = False
            if known is not None:
                return rx.redirect("/?denied=1")
            return login_redirect(self.router.url.path)
        self.username, self.role = user.username, user.role
        self.denied = self.router.url.query_parameters.get("denied") == "1"
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


async def _check_login(state: rx.State) -> None:
    """Raise Forbidden when the tab's login is gone (the cookie is read under the lock). With the
    database unavailable the tab keeps its page: the next check decides."""
    async with state:
        cookies = state.router.headers.cookie
    try:
        await user_from_cookies(cookies)
    except TRANSIENT_DB_ERRORS:
        log.debug("login check skipped: database unavailable")


async def end_session(state: rx.State) -> None:
    """The tab's login is gone: forget who it was and send the tab to the login page.

    Called from a background task (`state` is its proxy); outside an event (tests) only the
    navigation bar is cleared.
    """
    from reflex_base.event.context import EventContext

    async with state:
        path = state.router.url.path
        chat.stop(state.router.session.client_token)  # an answer streaming in this tab stops too
        # Forget everything the tab was shown (every page's state), not only who was logged in.
        root = await state.get_state(rx.State)
        root.reset()  # type: ignore[no-untyped-call]
    try:
        context = EventContext.get()
    except LookupError:
        return
    await context.emit_event(*Event.from_event_type(login_redirect(path)))


async def follow_events(
    state: rx.State,
    refresh: Callable[[], Awaitable[None]],
    wants: Callable[[dict[str, Any]], bool] = lambda _event: True,
    *,
    channel: str = "",
) -> None:
    """`refresh` must raise Forbidden when the tab's login is gone (after forgetting its data).
    `channel`: a part of a page that follows on its own (one loop per tab and channel; the page's own
    loop is channel "")."""
    tab = state.router.session.client_token
    token = f"{tab}#{channel}" if channel else tab
    generation = _generations[token] = _generations.get(token, 0) + 1
    loop = asyncio.get_running_loop()

    def relevant(event: dict[str, Any]) -> bool:
        return event.get("topic") == USERS_TOPIC or wants(event)

    with bus.subscribe() as queue:
        try:
            await _refresh_or_log(refresh)
            last_refresh = loop.time()
            while _generations.get(token) == generation:
                try:
                    event = await asyncio.wait_for(queue.get(), timeout=LIVENESS_CHECK_S)
                except TimeoutError:
                    if not _tab_connected(tab):
                        break
                    await _check_login(state)  # expiry, or a change whose announcement was missed
                    continue
                # The first change after a quiet spell shows at once; a burst is folded into one
                # refresh per MIN_REFRESH_INTERVAL_S.
                wait = last_refresh + MIN_REFRESH_INTERVAL_S - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                wanted = relevant(event)
                while not queue.empty():
                    wanted = relevant(queue.get_nowait()) or wanted
                if wanted and _generations.get(token) == generation:
                    await _refresh_or_log(refresh)
                    last_refresh = loop.time()
        except Forbidden:
            # Logged out or revoked: the page stops following and the tab goes to the login page
            # (unless a newer load of this tab took over).
            if _generations.get(token) == generation:
                await end_session(state)
        finally:
            if _generations.get(token) == generation:
                _generations.pop(token, None)
