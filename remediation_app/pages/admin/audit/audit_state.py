"""The audit log's state (admins only): newest first, filtered by actor and action, a page at a time.

Details are kept as JSON text (they were redacted before they were stored). Every handler checks
the admin on the server (AdminState), the pager's included.
"""

from __future__ import annotations

import json

import reflex as rx

from remediation_app.components.pager import PAGE_SIZE, PagerState
from remediation_app.db import TRANSIENT_DB_ERRORS, async_session
from remediation_app.models import AuditEvent
from remediation_app.pages.admin.kit_state import AdminState
from remediation_app.services.audit import AuditFilter, event_public, list_events
from remediation_app.state import UNAVAILABLE

MAX_FILTER = 150


def _row(event: AuditEvent) -> dict[str, str]:
    public = event_public(event)
    details = public.pop("details") or {}
    row = {k: "" if v is None else str(v) for k, v in public.items()}
    row["success"] = "yes" if public["success"] else "no"
    row["details"] = json.dumps(details, sort_keys=True, ensure_ascii=False) if details else ""
    return row


class AdminAuditState(AdminState, PagerState, rx.State):
    actor: str = ""
    action: str = ""

    def _nothing(self) -> str:
        return "No events match."

    async def _load(self) -> None:
        flt = AuditFilter(actor=self.actor.strip(), action=self.action.strip())
        try:
            async with async_session() as session:
                events, total = await list_events(session, flt, limit=PAGE_SIZE, offset=self.page * PAGE_SIZE)
                if not events and total and self.page:  # the page emptied meanwhile: show the last one
                    self.page = (total - 1) // PAGE_SIZE
                    events, total = await list_events(session, flt, limit=PAGE_SIZE, offset=self.page * PAGE_SIZE)
        except TRANSIENT_DB_ERRORS:
            self.rows, self.total, self.error = [], 0, UNAVAILABLE
            return
        self.rows, self.total, self.error = [_row(e) for e in events], total, ""

    async def _page_turned(self, moved: bool) -> None:
        await self._load()

    @rx.event
    async def filter_by_actor(self, value: str):
        self.actor, self.page = str(value)[:MAX_FILTER], 0
        await self._load()

    @rx.event
    async def filter_by_action(self, value: str):
        self.action, self.page = str(value)[:MAX_FILTER], 0
        await self._load()
