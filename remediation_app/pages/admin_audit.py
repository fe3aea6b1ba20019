"""The audit log (admins only): newest first, filtered by actor and action, 50 a page.

Details are shown as JSON text (they were redacted before they were stored).
"""

from __future__ import annotations

import json

import reflex as rx
from reflex.event import EventSpec

from remediation_app.components.pager import page_count, pager, showing
from remediation_app.db import TRANSIENT_DB_ERRORS, async_session
from remediation_app.layout import layout
from remediation_app.models import AuditEvent, User
from remediation_app.services.audit import AuditFilter, event_public, list_events
from remediation_app.state import admin_or_refusal

PAGE_SIZE = 50
MAX_FILTER = 150


def _row(event: AuditEvent) -> dict[str, str]:
    public = event_public(event)
    details = public.pop("details") or {}
    row = {k: "" if v is None else str(v) for k, v in public.items()}
    row["success"] = "yes" if public["success"] else "no"
    row["details"] = json.dumps(details, sort_keys=True, ensure_ascii=False) if details else ""
    return row


class AdminAuditState(rx.State):
    rows: list[dict[str, str]] = []
    total: int = 0
    page: int = 0
    actor: str = ""
    action: str = ""
    error: str = ""

    @rx.var
    def page_count(self) -> int:
        return page_count(self.total, PAGE_SIZE)

    @rx.var
    def showing(self) -> str:
        return showing(
            page=self.page, page_size=PAGE_SIZE, shown=len(self.rows), total=self.total, nothing="No events match."
        )

    async def _admin(self) -> User | EventSpec:
        """The admin, or (after forgetting everything shown) the redirect refusing this tab."""
        outcome = await admin_or_refusal(self)
        if not isinstance(outcome, User):
            self.rows, self.total, self.page, self.actor, self.action, self.error = [], 0, 0, "", "", ""
        return outcome

    async def _load(self) -> None:
        flt = AuditFilter(actor=self.actor.strip(), action=self.action.strip())
        try:
            async with async_session() as session:
                events, total = await list_events(session, flt, limit=PAGE_SIZE, offset=self.page * PAGE_SIZE)
                if not events and total and self.page:  # the page emptied meanwhile: show the last one
                    self.page = (total - 1) // PAGE_SIZE
                    events, total = await list_events(session, flt, limit=PAGE_SIZE, offset=self.page * PAGE_SIZE)
        except TRANSIENT_DB_ERRORS:
            self.rows, self.total, self.error = [], 0, "The database is unavailable; try again in a moment."
            return
        self.rows, self.total, self.error = [_row(e) for e in events], total, ""

    @rx.event
    async def load(self):
        if not isinstance(admin := await self._admin(), User):
            return admin
        await self._load()
        return None

    @rx.event
    async def filter_by_actor(self, value: str):
        if not isinstance(admin := await self._admin(), User):
            return admin
        self.actor, self.page = str(value)[:MAX_FILTER], 0
        await self._load()
        return None

    @rx.event
    async def filter_by_action(self, value: str):
        if not isinstance(admin := await self._admin(), User):
            return admin
        self.action, self.page = str(value)[:MAX_FILTER], 0
        await self._load()
        return None

    @rx.event
    async def next_page(self):
        if not isinstance(admin := await self._admin(), User):
            return admin
        if self.page + 1 < self.page_count:
            self.page += 1
        await self._load()
        return None

    @rx.event
    async def previous_page(self):
        if not isinstance(admin := await self._admin(), User):
            return admin
        if self.page > 0:
            self.page -= 1
        await self._load()
        return None


def _filter_input(label: str, value: rx.Var, on_change: object, id_: str, placeholder: str) -> rx.Component:
    return rx.vstack(
        rx.text(label, size="1", color_scheme="gray"),
        rx.debounce_input(
            rx.input(
                value=value,
                on_change=on_change,
                id=id_,
                placeholder=placeholder,
                max_length=MAX_FILTER,
                width="16em",
            ),
            debounce_timeout=250,
        ),
        spacing="1",
    )


def _filters() -> rx.Component:
    return rx.hstack(
        _filter_input("Actor", AdminAuditState.actor, AdminAuditState.filter_by_actor, "audit-actor", "username"),
        _filter_input(
            "Action", AdminAuditState.action, AdminAuditState.filter_by_action, "audit-action", "e.g. user.create"
        ),
        spacing="4",
        margin_bottom="1em",
    )


def _event_row(row: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.moment(row["at"], format="YYYY-MM-DD HH:mm:ss"), white_space="nowrap"),
        rx.table.cell(rx.text(row["actor"]), class_name="actor"),
        rx.table.cell(rx.code(row["action"]), class_name="action"),
        rx.table.cell(rx.text(row["target"]), class_name="target"),
        rx.table.cell(rx.text(row["address"]), class_name="address"),
        rx.table.cell(rx.text(row["success"]), class_name="success"),
        rx.table.cell(
            rx.text(row["details"], white_space="pre-wrap", word_break="break-word", size="1"),
            class_name="details",
            max_width="28em",
        ),
        class_name="audit-row",
    )


def _table() -> rx.Component:
    headers = ["When", "Actor", "Action", "Target", "Address", "OK", "Details"]
    return rx.table.root(
        rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in headers])),
        rx.table.body(rx.foreach(AdminAuditState.rows, _event_row), id="audit-rows"),
        width="100%",
        variant="surface",
        size="1",
    )


def admin_audit_page() -> rx.Component:
    return layout(
        rx.cond(
            AdminAuditState.error != "", rx.callout(AdminAuditState.error, color_scheme="red", margin_bottom="1em")
        ),
        _filters(),
        _table(),
        pager(AdminAuditState, prefix="audit-"),
        title="Audit log",
    )
