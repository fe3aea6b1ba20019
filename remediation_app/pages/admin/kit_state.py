"""The admin kit's states: the guard every admin page shares, and the list/add/edit/delete state.

`AdminState` guards once. When a subclass is created, every public event handler it has (its own,
and those it gets from mixins such as components/pager.py's PagerState) is wrapped so that it
first checks, on the server, that the tab is an admin's (the page's on_load redirect is only a
convenience). A refused tab forgets everything the page showed and gets the redirect: the login
page, or the dashboard with a notice. A background handler is checked before it takes the state
lock. Inside a handler, `self._actor()` is the admin that check found (for the audit log).
A handler that touches nothing protected opts out with `@unguarded` (say why next to it).

`CrudState` adds the table with its add/edit form (providers, servers): `_apply` runs one change in
a transaction and shows its outcome (users and rules use it too).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any, TypeVar

import reflex as rx
import sqlalchemy as sa
from reflex.state import BaseState
from reflex_base.event import BACKGROUND_TASK_MARKER
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.db import TRANSIENT_DB_ERRORS, async_session
from remediation_app.models import User
from remediation_app.state import UNAVAILABLE, admin_or_refusal, admin_outside_lock, client_address, form_id, refusal

F = TypeVar("F", bound=Callable[..., Any])
# A change: (session, admin, address) -> the notice to show once it is committed.
Change = Callable[[AsyncSession, User, str], Awaitable[str]]

# The admin the running handler was called by (set by the guard for the handler's duration).
_ACTOR: ContextVar[User | None] = ContextVar("admin_actor", default=None)
_GUARD = "_admin_guard"  # marks a handler as guarded, or as deliberately unguarded


def unguarded(fn: F) -> F:
    """Leave this handler unchecked: it must touch nothing protected (no database, no other data)."""
    setattr(fn, _GUARD, "unguarded")
    return fn


def checked(value: object) -> bool:
    """A form checkbox's value as a bool (browsers send "on")."""
    return value is True or str(value).lower() in ("on", "true", "1", "yes")


def _guard(fn: Callable[..., Any]) -> Callable[..., Any]:
    if inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn):
        raise TypeError(f"{fn.__qualname__}: the admin guard does not wrap generator handlers yet")

    if getattr(fn, BACKGROUND_TASK_MARKER, False):

        @functools.wraps(fn)
        async def guarded(self: Any, *args: Any, **kwargs: Any) -> Any:
            # Checked outside the state lock (a database call); the refusal is given under it.
            admin = await admin_outside_lock(self)
            if admin is None:
                async with self:
                    self._forget()
                    return await refusal(self)
            return await _as(admin, fn, self, *args, **kwargs)

    else:

        @functools.wraps(fn)
        async def guarded(self: Any, *args: Any, **kwargs: Any) -> Any:
            outcome = await admin_or_refusal(self)
            if not isinstance(outcome, User):
                self._forget()
                return outcome
            return await _as(outcome, fn, self, *args, **kwargs)

    setattr(guarded, _GUARD, "guarded")
    return guarded


async def _as(admin: User, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    token = _ACTOR.set(admin)
    try:
        result = fn(*args, **kwargs)
        return await result if inspect.isawaitable(result) else result
    finally:
        _ACTOR.reset(token)


class AdminState(rx.State, mixin=True):
    """The base of every admin page's state: guarded handlers, `error` and `notice`, and `load`."""

    error: str = ""
    notice: str = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # Before Reflex turns the class's functions into event handlers: wrap each public one that
        # this class defines or gets from a mixin (already wrapped ones are marked).
        for klass in cls.__mro__:
            if klass is not cls and not (isinstance(klass, type) and issubclass(klass, BaseState) and klass._mixin):
                continue
            for name, value in list(vars(klass).items()):
                if not BaseState._item_is_event_handler(name, value):
                    continue
                resolved = next(vars(k)[name] for k in cls.__mro__ if name in vars(k))
                if getattr(resolved, _GUARD, None) is None:
                    guarded = _guard(resolved)
                    guarded.__qualname__ = f"{cls.__name__}.{name}"
                    setattr(cls, name, guarded)
        super().__init_subclass__(**kwargs)

    def _forget(self) -> None:
        """A refused tab: every var of the page back to its default (nothing it showed stays)."""
        self.reset()  # type: ignore[no-untyped-call]

    def _actor(self) -> User:
        admin = _ACTOR.get()
        if admin is None:
            raise RuntimeError("no admin: called outside a guarded handler")
        return admin

    def _fail(self, message: str) -> None:
        self.error, self.notice = message, ""

    def _done(self, message: str) -> None:
        self.error, self.notice = "", message

    async def _load(self) -> None:
        """What opening the page (or Refresh) loads."""
        raise NotImplementedError

    async def _apply(
        self, change: Change, *, refused: tuple[type[Exception], ...] = (), exists: str | None = None
    ) -> bool:
        """Run one change in a transaction as the admin and commit it; show its notice, or why it was
        refused: the message of a `refused` exception (it names the field, never a secret), `exists`
        for a name taken meanwhile (a unique constraint), or that the database is unavailable.
        Returns whether it was done."""
        try:
            async with async_session() as session:
                notice = await change(session, self._actor(), client_address(self))
                await session.commit()
        except refused as exc:
            self._fail(str(exc))
            return False
        except sa.exc.IntegrityError:
            if exists is None:
                raise
            self._fail(exists)
            return False
        except TRANSIENT_DB_ERRORS:
            self._fail(UNAVAILABLE)
            return False
        self._done(notice)
        return True

    @rx.event
    async def load(self):
        self.error = self.notice = ""
        await self._load()


class CrudState(AdminState, mixin=True):
    """A table of rows with one add/edit form, and delete. The form never holds a secret: the page
    only knows whether one is stored (a `has_<secret>` field).

    A subclass declares `form` with the blank form as its default and says what a row is called
    (`_noun`, in every message), which exception its service refuses a row with (`_refusal`: it
    names the field), how rows and the form are read (`_list_rows`, `_edit_form`), saved and deleted
    (`_save_row`, `_delete_stored`), and what it shows per row beside the stored fields (`_extras`,
    e.g. a connection test's outcome; `_drop_extras` once the row changed).
    """

    rows: list[dict[str, str]] = []
    loaded: bool = False
    # The form: "" adds a row, else the id of the one being edited.
    editing_id: str = ""
    form: dict[str, str] = {}
    form_key: int = 0  # a new key re-creates the form with its new defaults

    def _noun(self) -> str:
        raise NotImplementedError

    def _refusal(self) -> type[Exception]:
        """The service's refusal, raised as `Refusal(field, message)`."""
        raise NotImplementedError

    async def _list_rows(self, session: AsyncSession) -> list[dict[str, str]]:
        raise NotImplementedError

    async def _edit_form(self, session: AsyncSession, row_id: int) -> dict[str, str] | None:
        """The form for editing that row (None when it is gone)."""
        raise NotImplementedError

    async def _save_row(
        self, session: AsyncSession, form_data: dict[str, Any], row_id: int | None, admin: User, address: str
    ) -> str:
        """Add (row_id None) or change a row from the form's payload; returns its name."""
        raise NotImplementedError

    async def _delete_stored(self, session: AsyncSession, row_id: int, admin: User, address: str) -> None:
        raise NotImplementedError

    def _extras(self, row_id: str) -> dict[str, str]:
        return {}

    def _drop_extras(self, row_id: str) -> None:
        return None

    async def _fetch_rows(self) -> list[dict[str, str]] | None:
        """The rows as stored (None: the database is unavailable). Holds no lock: a background
        handler calls it outside `async with self`."""
        try:
            async with async_session() as session:
                return await self._list_rows(session)
        except TRANSIENT_DB_ERRORS:
            return None

    def _show(self, rows: list[dict[str, str]] | None) -> None:
        if rows is None:
            self.rows, self.loaded, self.error = [], False, UNAVAILABLE
            return
        self.rows, self.loaded = rows, True
        self._show_extras()

    def _show_extras(self) -> None:
        self.rows = [{**row, **self._extras(row["id"])} for row in self.rows]

    async def _reload(self) -> None:
        self._show(await self._fetch_rows())

    def _reset_form(self) -> None:
        blank = dict(self.__class__.__fields__["form"].default_value() or {})  # __class__: also via a StateProxy
        self.editing_id, self.form, self.form_key = "", blank, self.form_key + 1

    async def _load(self) -> None:
        self._reset_form()
        await self._reload()

    async def _save_form(self, form_data: dict[str, Any]) -> None:
        """Save the form (it adds a row, or changes the one being edited), then start a blank form."""
        noun, row_id = self._noun(), form_id(self.editing_id) if self.editing_id else None

        async def save(session: AsyncSession, admin: User, address: str) -> str:
            return f"Saved {noun} {await self._save_row(session, form_data, row_id, admin, address)}."

        exists = f"name: a {noun} with that name exists"  # the same name saved by someone else this instant
        if not await self._apply(save, refused=(self._refusal(),), exists=exists):
            return
        self._drop_extras(self.editing_id)
        self._reset_form()
        await self._reload()

    async def _delete_row(self, row_id: str) -> None:
        """Delete one row (after the page's confirmation), and show the rows again in any case."""
        noun, wanted = self._noun(), form_id(row_id)

        async def delete(session: AsyncSession, admin: User, address: str) -> str:
            if not wanted:
                raise self._refusal()("id", f"no such {noun}")
            await self._delete_stored(session, wanted, admin, address)
            return f"{noun.capitalize()} deleted."

        if await self._apply(delete, refused=(self._refusal(),)):
            self._drop_extras(str(wanted))
            if self.editing_id == str(wanted):
                self._reset_form()
        await self._reload()

    @rx.event
    async def start_edit(self, row_id: str):
        wanted = form_id(row_id)
        try:
            async with async_session() as session:
                form = await self._edit_form(session, wanted) if wanted else None
        except TRANSIENT_DB_ERRORS:
            self._fail(UNAVAILABLE)
            return
        if form is None:
            self._fail(f"No such {self._noun()} (deleted meanwhile?).")
            await self._reload()
            return
        self.editing_id, self.form, self.form_key = str(wanted), form, self.form_key + 1
        self.error = self.notice = ""

    @rx.event
    async def cancel_edit(self):
        self._reset_form()
        self.error = ""
