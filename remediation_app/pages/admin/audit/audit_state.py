"""The audit log's state (admins only): newest first, filtered by actor and action, a page at a time.

Details are kept as JSON text (they were redacted before they were stored). Every handler checks
the admin on the server (AdminState), the pager's included.
"""

from __future__ import annotations

import json

import reflex as rx
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.components.pager import FilteredPagerState, fetch_page
from remediation_app.models import AuditEvent
from remediation_app.pages.admin.kit_state import AdminState
from remediation_app.services.audit import AuditFilter, event_public, list_events

MAX_FILTER = 150


def _row(event: AuditEvent) -> dict[str, str]:
    public = event_public(event)
    details = public.pop("details") or {}
    row = {k: "" if v is None else str(v) for k, v in public.items()}
    row["success"] = "yes" if public["success"] else "no"
    row["details"] = json.dumps(details, sort_keys=True, ensure_ascii=False) if details else ""
    return row


class AdminAuditState(AdminState, FilteredPagerState, rx.State):
    actor: str = ""
    action: str = ""

    def _nothing(self) -> str:
        return "No events match."

    def _filters(self) -> dict[str, int]:
        return {"actor": MAX_FILTER, "action": MAX_FILTER}

    async def _load(self) -> None:
        flt = AuditFilter(actor=self.actor.strip(), action=self.action.strip())

        async def fetch(session: AsyncSession, limit: int, offset: int) -> tuple[list[dict[str, str]], int]:
            events, total = await list_events(session, flt, limit=limit, offset=offset)
            return [_row(e) for e in events], total

        self._show_page(await fetch_page(fetch, self.page))

    async def _page_turned(self, moved: bool) -> None:
        await self._load()
