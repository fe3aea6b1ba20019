"""Terminal sessions (admins only): who opened which server, for which alert, when, how much went
through and how it ended; each recording can be downloaded (asciicast v2) or replayed.

The state is in sessions_state.py (every handler checks the admin on the server). The Download
link and the replay fetch /api/terminal/sessions/<id>/recording, which checks the admin again (the
browser's login cookie) and audits it (terminal.download). The replay plays in the browser
(xterm_replay), streaming the recording: nothing of it passes through the state.
"""

from __future__ import annotations

import reflex as rx

from remediation_app.components.callouts import message
from remediation_app.components.pager import pager
from remediation_app.components.table import data_table, row_button
from remediation_app.components.xterm import xterm_replay
from remediation_app.pages.admin.sessions.sessions_state import SPEEDS, AdminSessionsState
from remediation_app.pages.page import page


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
                    row_button("Replay", AdminSessionsState.open_replay(row["id"]), class_name="replay"),
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


@page("/admin/sessions", "Terminal sessions", role="admin", on_load=AdminSessionsState.load)
def admin_sessions_page() -> tuple[rx.Component, ...]:
    s = AdminSessionsState
    headers = ["#", "User", "Server", "Alert", "Started", "Ended", "Bytes", "Exit", "Reason", "Recording"]
    return (
        message(s.error, "red", id="sessions-error", margin_bottom="1em"),
        rx.hstack(
            rx.text("Browser terminal sessions, newest first.", size="2", color_scheme="gray"),
            rx.spacer(),
            rx.button("Refresh", on_click=s.load, variant="soft", size="1", id="sessions-refresh"),
            width="100%",
            margin_bottom="0.75em",
        ),
        data_table(headers, s.rows, _session_row, body_id="session-rows"),
        pager(s, prefix="sessions-"),
        _replay_dialog(),
    )
