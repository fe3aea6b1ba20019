"""The terminal sessions page's state (admins only): a page of session records, newest first, and
which recording the replay dialog plays (at which speed).

Every handler checks the admin on the server (AdminState), the pager's included; the records come
from services.terminal.sessions, as on the API.
"""

from __future__ import annotations

import reflex as rx
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.components.pager import PagerState, fetch_page
from remediation_app.pages.admin.kit_state import AdminState, unguarded
from remediation_app.services.terminal import sessions

SPEEDS = {"1": "x1", "4": "x4", "0": "all at once"}


def _when(value: str | None) -> str:
    return (value or "")[:19].replace("T", " ")


def _row(public: dict[str, object]) -> dict[str, str]:
    status = public["exit_status"]
    return {
        "id": str(public["id"]),
        "username": str(public["username"]),
        "server": str(public["server"]),
        "alert_id": str(public["alert_id"] or ""),
        "started_at": _when(str(public["started_at"])),
        "ended_at": _when(public["ended_at"]) if isinstance(public["ended_at"], str) else "open",
        "bytes": f"{public['bytes_in']} in / {public['bytes_out']} out",
        "exit_status": "" if status is None else str(status),
        "reason": str(public["close_reason"] or ""),
        "recording": f"{public['recording_bytes']} B" + (" (truncated)" if public["recording_truncated"] else ""),
        "has_recording": "yes" if public["recording_bytes"] else "",
    }


async def _session_rows(session: AsyncSession, limit: int, offset: int) -> tuple[list[dict[str, str]], int]:
    total = await sessions.count_sessions(session)
    rows = await sessions.list_sessions(session, limit=limit, offset=offset)
    return [_row(sessions.session_public(r)) for r in rows], total


class AdminSessionsState(AdminState, PagerState, rx.State):
    # The replay: which session, at which speed ("1", "4", or "0" = everything at once).
    replay_id: str = ""
    replay_speed: str = "1"
    replay_status: str = ""

    @rx.var
    def replay_src(self) -> str:
        return f"/api/terminal/sessions/{self.replay_id}/recording" if self.replay_id else ""

    def _nothing(self) -> str:
        return "None yet."

    async def _load(self) -> None:
        self._show_page(await fetch_page(_session_rows, self.page))

    async def _page_turned(self, moved: bool) -> None:
        await self._load()

    @rx.event
    async def open_replay(self, session_id: str):
        if str(session_id) in {r["id"] for r in self.rows}:
            self.replay_id, self.replay_status = str(session_id), ""

    @rx.event
    async def choose_speed(self, speed: str | list[str]):
        if str(speed) in SPEEDS:
            self.replay_speed = str(speed)

    @rx.event
    @unguarded  # only what the tab's own replay reported: nothing protected
    def replay_reported(self, kind: str, message: str):
        if self.replay_id:
            self.replay_status = str(message or kind)[:500]

    @rx.event
    async def close_replay(self, open_: bool = False):
        if not open_:
            self.replay_id, self.replay_status = "", ""
