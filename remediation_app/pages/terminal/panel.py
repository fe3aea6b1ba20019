"""The terminal panel: pick a server (with its environment), Open, the xterm, Close.

Reusable: the /terminal page shows it, and the alert page (after `TerminalPanelState.for_alert`
preselected the alert's server). Servers whose host key is not accepted yet are listed disabled
with the reason. Refusals (role, session limit, host key changed, wrong credentials) are shown as
the server words them. The state is in panel_state.py.
"""

from __future__ import annotations

import reflex as rx

from remediation_app.components.badges import environment_badge
from remediation_app.components.callouts import message
from remediation_app.components.xterm import xterm_terminal
from remediation_app.pages.terminal.panel_state import TerminalPanelState


def _option(server: rx.Var) -> rx.Component:
    return rx.el.option(server["label"], value=server["id"], disabled=server["ready"] == "")


def _picker(s: type[TerminalPanelState]) -> rx.Component:
    return rx.hstack(
        rx.el.select(
            rx.el.option("Pick a server…", value="", disabled=True),
            rx.foreach(s.servers, _option),
            value=s.selected,
            on_change=s.choose_server,
            id="terminal-server",
            # At most the column's width: the alert page's side column, or a phone.
            style={
                "padding": "0.3em 0.5em",
                "min_width": "min(22em, 100%)",
                "max_width": "100%",
                "border_radius": "var(--radius-2)",
            },
        ),
        rx.button(
            rx.cond(s.ticket != "", "Reconnect", "Open"),
            on_click=s.open_terminal,
            disabled=s.selected == "",
            id="terminal-open",
        ),
        rx.cond(
            s.ticket != "",
            rx.button("Close", on_click=s.close_terminal, variant="soft", color_scheme="gray", id="terminal-close"),
        ),
        align="center",
        spacing="3",
        wrap="wrap",
    )


def _server_list(s: type[TerminalPanelState]) -> rx.Component:
    return rx.vstack(
        rx.foreach(
            s.servers,
            lambda server: rx.hstack(
                rx.text(server["name"], weight="bold", size="2"),
                environment_badge(server["environment"], class_name="environment"),
                rx.text(server["address"], size="1", color_scheme="gray"),
                rx.cond(server["why"] != "", rx.text(server["why"], size="1", color_scheme="orange")),
                align="center",
                spacing="2",
                class_name="terminal-server-row",
                id="terminal-server-row-" + server["name"],
            ),
        ),
        spacing="1",
    )


def terminal_panel(height: str = "28em") -> rx.Component:
    s = TerminalPanelState
    return rx.vstack(
        rx.cond(
            s.loaded & (s.servers.length() == 0),  # type: ignore[attr-defined]
            rx.callout(
                "No server you may open yet: an admin adds them on the Servers page.",
                color_scheme="gray",
                id="terminal-no-servers",
            ),
            rx.vstack(_picker(s), _server_list(s), spacing="2"),
        ),
        message(s.error, "red", id="terminal-error", width="100%"),
        rx.cond(
            s.ticket != "",
            rx.vstack(
                rx.hstack(
                    rx.text(s.open_server, weight="bold", size="2", id="terminal-server-name"),
                    rx.text(s.status, size="1", color_scheme=rx.cond(s.ended, "orange", "gray"), id="terminal-status"),
                    spacing="3",
                    align="center",
                ),
                xterm_terminal(
                    ticket=s.ticket,
                    on_status=s.terminal_status,
                    id="terminal-screen",
                    style={"width": "100%", "height": height, "background": "#111318", "padding": "4px"},
                ),
                width="100%",
                spacing="2",
            ),
        ),
        width="100%",
        spacing="3",
        id="terminal-panel",
    )
