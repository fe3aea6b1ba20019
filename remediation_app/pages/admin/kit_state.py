"""The admin kit's states: the guard every admin page shares, and the list/add/edit/delete state.

`AdminState` guards once. When a subclass is created, every public event handler it has (its own,
and those it gets from mixins such as components/pager.py's PagerState) is wrapped so that it
first checks, on the server, that the tab is an admin's (the page's on_load redirect is only a
convenience). A refused tab forgets everything the page showed and gets the redirect: the login
page, or the dashboard with a notice. A background handler is checked before it takes the state
lock. Inside a handler, `self._actor()` is the admin that check found (for the audit log).
A handler that touches nothing protected opts out with `@unguarded` (say why next to it).

`CrudState` adds the table with its add/edit form and its handlers (providers, datasources,
servers), and `ConnectionTestState` a row's Test connection: `_apply` runs one change in a
transaction and shows its outcome (users and rules use it too).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any, ClassVar, TypeVar

import reflex as rx
import sqlalchemy as sa
from reflex.state import BaseState
from reflex_base.event import BACKGROUND_TASK_MARKER
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.db import TRANSIENT_DB_ERRORS, async_session
from remediation_app.models import User
from remediation_app.services.records import Records
from remediation_app.state import UNAVAILABLE, admin_or_refusal, admin_outside_lock, client_address, parse_id, refusal

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


def form_flags(values: dict[str, Any], *names: str) -> dict[str, str]:
    """Checkboxes and `has_<secret>` flags as a form holds them: "true" when set, else ""."""
    return {name: "true" if values[name] else "" for name in names}


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

    A subclass declares `form` with the blank form as its default, its service's `records` (what a
    row is called, `noun`, in every message and element id; the exception that refuses a row and
    names the field; its table; the audited delete), how rows and the form are read (`_list_rows`,
    `_form_of`) and saved (`_save_stored`), and what a row shows beside its stored fields
    (`extra_fields`, e.g. a connection test's outcome: set with `_set_extras`, kept across reloads
    until the row changes).
    """

    records: ClassVar[Records[Any]]

    rows: list[dict[str, str]] = []
    loaded: bool = False
    # The form: "" adds a row, else the id of the one being edited.
    editing_id: str = ""
    form: dict[str, str] = {}
    form_key: int = 0  # a new key re-creates the form with its new defaults
    extra_fields: ClassVar[tuple[str, ...]] = ()
    _extras_by_row: dict[str, dict[str, str]] = {}

    async def _list_rows(self, session: AsyncSession) -> list[dict[str, str]]:
        raise NotImplementedError

    def _form_of(self, row: Any) -> dict[str, str]:
        """The form for editing that stored row."""
        raise NotImplementedError

    async def _save_stored(
        self, session: AsyncSession, form_data: dict[str, Any], row_id: int | None, admin: User, address: str
    ) -> str:
        """Add (row_id None) or change a row from the form's payload; returns its name."""
        raise NotImplementedError

    def _extras(self, row_id: str) -> dict[str, str]:
        return {**dict.fromkeys(self.extra_fields, ""), **self._extras_by_row.get(row_id, {})}

    def _set_extras(self, row_id: str, **values: str) -> None:
        """Show `values` in that row (the other extra fields empty)."""
        self._extras_by_row = {**self._extras_by_row, row_id: values}
        self._show_extras()

    def _drop_extras(self, row_id: str) -> None:
        self._extras_by_row = {k: v for k, v in self._extras_by_row.items() if k != row_id}

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

    @rx.event
    async def save_row(self, form_data: dict[str, Any]):
        """Save the form (it adds a row, or changes the one being edited), then start a blank form."""
        noun, row_id = self.records.noun, parse_id(self.editing_id) if self.editing_id else None

        async def save(session: AsyncSession, admin: User, address: str) -> str:
            return f"Saved {noun} {await self._save_stored(session, form_data, row_id, admin, address)}."

        exists = f"name: a {noun} with that name exists"  # the same name saved by someone else this instant
        if not await self._apply(save, refused=(self.records.error,), exists=exists):
            return
        self._drop_extras(self.editing_id)
        self._reset_form()
        await self._reload()

    @rx.event
    async def delete_row(self, row_id: str):
        """Delete one row (after the page's confirmation), and show the rows again in any case."""
        records, wanted = self.records, parse_id(row_id)

        async def delete(session: AsyncSession, admin: User, address: str) -> str:
            if not wanted:
                raise records.error("id", f"no such {records.noun}")
            await records.delete(session, wanted, actor=admin, address=address)
            return f"{records.noun.capitalize()} deleted."

        if await self._apply(delete, refused=(records.error,)):
            self._drop_extras(str(wanted))
            if self.editing_id == str(wanted):
                self._reset_form()
        await self._reload()

    @rx.event
    async def start_edit(self, row_id: str):
        wanted = parse_id(row_id)
        try:
            async with async_session() as session:
                row = await session.get(self.records.model, wanted) if wanted else None
                form = None if row is None else self._form_of(row)
        except TRANSIENT_DB_ERRORS:
            self._fail(UNAVAILABLE)
            return
        if form is None:
            self._fail(f"No such {self.records.noun} (deleted meanwhile?).")
            await self._reload()
            return
        self.editing_id, self.form, self.form_key = str(wanted), form, self.form_key + 1
        self.error = self.notice = ""

    @rx.event
    async def cancel_edit(self):
        self._reset_form()
        self.error = ""


class ConnectionTestState(CrudState, mixin=True):
    """A CrudState whose rows have Test connection (the environment's row, id 0, too): its outcome is
    shown in the row's extra fields `test_status` ("testing", "ok", "failed") and `test_message`."""

    extra_fields: ClassVar[tuple[str, ...]] = ("test_status", "test_message")

    async def _test_connection(
        self, row_id: str, test: Callable[[int], Awaitable[dict[str, Any]]], passed: Callable[[dict[str, Any]], str]
    ) -> None:
        """For a background handler: run the service's `test` outside the state lock (it may take up
        to the row's timeout); `passed` says what a passed test found, a failure shows the exact error."""
        wanted = parse_id(row_id)
        if wanted is None:
            return
        async with self:
            self._set_extras(str(wanted), test_status="testing", test_message="Testing…")
        try:
            outcome = await test(wanted)
        except TRANSIENT_DB_ERRORS:
            outcome = {"ok": False, "error": UNAVAILABLE}
        if outcome.get("ok"):
            status, message = "ok", passed(outcome)
        else:
            status, message = "failed", str(outcome.get("error") or "failed")
        async with self:
            self._set_extras(str(wanted), test_status=status, test_message=message)
