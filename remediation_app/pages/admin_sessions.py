"""Terminal sessions (admins only): who opened which server, for which alert, when, how much went
through and how it ended; each recording can be downloaded (asciicast v2) or replayed.

Every handler checks the admin on the server. The Download link and the replay fetch
/api/terminal/sessions/<id>/recording, which checks the admin again (the browser's login cookie)
and audits it (terminal.download). The replay plays in the browser (xterm_replay), streaming the
recording: nothing of it passes through this state.
"""

from __future__ import annotations

import reflex as rx
from reflex.event import EventSpec
from sqlmodel import col, func, select

from remediation_app.api.terminal import session_public
from remediation_app.components.pager import page_count, pager, showing
from remediation_app.components.xterm import xterm_replay
from remediation_app.db import TRANSIENT_DB_ERRORS, async_session
from remediation_app.layout import layout
from remediation_app.models import TerminalSession, User
from remediation_app.state import admin_or_refusal

PAGE_SIZE = 50
UNAVAILABLE = "The database is unavailable; try again in a moment."
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


class AdminSessionsState(rx.State):
    rows: list[dict[str, str]] = []
    total: int = 0
    page: int = 0
    error: str = ""
    # The replay: which session, at which speed ("1", "4", or "0" = everything at once).
    replay_id: str = ""
    replay_speed: str = "1"
    replay_status: str = ""

    @rx.var
    def page_count(self) -> int:
        return page_count(self.total, PAGE_SIZE)

    @rx.var
    def showing(self) -> str:
        return showing(page=self.page, page_size=PAGE_SIZE, shown=len(self.rows), total=self.total, nothing="None yet.")

    @rx.var
    def replay_src(self) -> str:
        return f"/api/terminal/sessions/{self.replay_id}/recording" if self.replay_id else ""

    def _forget(self) -> None:
        self.rows, self.total, self.page, self.error = [], 0, 0, ""
        self.replay_id, self.replay_speed, self.replay_status = "", "1", ""

    async def _admin(self) -> User | EventSpec:
        outcome = await admin_or_refusal(self)
        if not isinstance(outcome, User):
            self._forget()
        return outcome

    async def _load(self) -> None:
        try:
            async with async_session() as session:
                total = (await session.exec(select(func.count()).select_from(TerminalSession))).one()
                if self.page and self.page * PAGE_SIZE >= total:
                    self.page = max(0, (total - 1) // PAGE_SIZE)
                rows = await session.exec(
                    select(TerminalSession)
                    .order_by(col(TerminalSession.started_at).desc(), col(TerminalSession.id).desc())
                    .limit(PAGE_SIZE)
                    .offset(self.page * PAGE_SIZE)
                )
                self.rows = [_row(session_public(r)) for r in rows.all()]
        except TRANSIENT_DB_ERRORS:
            self.rows, self.total, self.error = [], 0, UNAVAILABLE
            return
        self.total, self.error = int(total), ""

    @rx.event
    async def load(self):
        if not isinstance(admin := await self._admin(), User):
            return admin
        await self._load()
        return None

    @rx.event
    async def next_page(self):
        if not isinstance(admin := await self._admin(), User):
            return admin
        if self.page + 1 < page_count(self.total, PAGE_SIZE):
            self.page += 1
        await self._load()
        return None

    @rx.event
    async def previous_page(self):
        if not isinstance(admin := await self._admin(), User):
            return admin
        self.page = max(0, self.page - 1)
        await self._load()
        return None

    @rx.event
    async def open_replay(self, session_id: str):
        if not isinstance(admin := await self._admin(), User):
            return admin
        if str(session_id) in {r["id"] for r in self.rows}:
            self.replay_id, self.replay_status = str(session_id), ""
        return None

    @rx.event
    async def choose_speed(self, speed: str | list[str]):
        if not isinstance(admin := await self._admin(), User):
            return admin
        if str(speed) in SPEEDS:
            self.replay_speed = str(speed)
        return None

    @rx.event
    def replay_reported(self, kind: str, message: str):
        """What the replay reported (playing, done, error). Nothing protected."""
        if self.replay_id:
            self.replay_status = str(message or kind)[:500]

    @rx.event
    async def close_replay(self, open_: bool = False):
        if not isinstance(admin := await self._admin(), User):
            return admin
        if not open_:
            self.replay_id, self.replay_status = "", ""
        return None


def _session_row(row: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(row["id"])),
        rx.table.cell(rx.text(row["username"], class_name="session-user")),
        rx.table.cell(rx.text(row["server"], class_name="session-server")),
        rx.table.cell(rx.cond(row["alert_id"] != "", rx.link("#", row["alert_id"], href="/alerts/" + row["alert_id"]))),
        rx.table.cell(rx.text(row["started_at"], size="1")),
        rx.table.cell(rx.text(row["ended_at"], size="1", class_name="session-ended")),
        rx.table.cell(rx.text(row["bytes"], size="1")),
        rx.table.cell(rx.text(row["exit_status"], class_name="session-exit")),
        rx.table.cell(rx.text(row["reason"], size="1", class_name="session-reason")),
        rx.table.cell(
            rx.cond(
                row["has_recording"] != "",
                rx.hstack(
                    rx.button(
                        "Replay",
                        size="1",
                        variant="soft",
                        on_click=AdminSessionsState.open_replay(row["id"]),
                        class_name="replay",
                    ),
                    rx.el.a(
                        "Download",
                        href="/api/terminal/sessions/" + row["id"] + "/recording",
                        download="",
                        class_name="download",
                        style={"font_size": "var(--font-size-2)", "color": "var(--accent-11)"},
                    ),
                    rx.text(row["recording"], size="1", color_scheme="gray"),
                    spacing="2",
                    align="center",
                ),
                rx.text("none", size="1", color_scheme="gray"),
            )
        ),
        class_name="session-row",
        id="session-row-" + row["id"],
    )


def _replay_dialog() -> rx.Component:
    s = AdminSessionsState
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Replay of session ", s.replay_id),
            rx.hstack(
                rx.segmented_control.root(
                    *[rx.segmented_control.item(label, value=value) for value, label in SPEEDS.items()],
                    value=s.replay_speed,
                    on_change=s.choose_speed,
                    id="replay-speed",
                ),
                rx.text(s.replay_status, size="1", color_scheme="gray", id="replay-status"),
                rx.spacer(),
                rx.dialog.close(rx.button("Close", variant="soft", color_scheme="gray", id="replay-close")),
                align="center",
                spacing="3",
                width="100%",
                margin_bottom="0.75em",
            ),
            rx.box(
                xterm_replay(
                    src=s.replay_src,
                    speed=s.replay_speed.to(float),  # type: ignore[attr-defined]
                    on_status=s.replay_reported,
                    id="replay-screen",
                    style={"background": "#111318", "padding": "4px", "min_height": "24em"},
                ),
                overflow="auto",
                width="100%",
            ),
            max_width="min(1100px, 95vw)",
            id="replay-dialog",
        ),
        open=s.replay_id != "",
        on_open_change=s.close_replay,
    )


def admin_sessions_page() -> rx.Component:
    s = AdminSessionsState
    headers = ["#", "User", "Server", "Alert", "Started", "Ended", "Bytes", "Exit", "Reason", "Recording"]
    return layout(
        rx.cond(s.error != "", rx.callout(s.error, color_scheme="red", id="sessions-error", margin_bottom="1em")),
        rx.hstack(
            rx.text("Browser terminal sessions, newest first.", size="2", color_scheme="gray"),
            rx.spacer(),
            rx.button("Refresh", on_click=s.load, variant="soft", size="1", id="sessions-refresh"),
            width="100%",
            margin_bottom="0.75em",
        ),
        rx.table.root(
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in headers])),
            rx.table.body(rx.foreach(s.rows, _session_row), id="session-rows"),
            width="100%",
            variant="surface",
        ),
        pager(s, prefix="sessions-"),
        _replay_dialog(),
        title="Terminal sessions",
    )
