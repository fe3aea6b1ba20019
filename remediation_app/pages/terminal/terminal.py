"""The terminal page (/terminal, any logged-in user): the terminal panel on a page of its own.

`/terminal?server=<id>` preselects a server; `&alert=<id>` ties the session to an alert.
"""

from __future__ import annotations

import reflex as rx

from remediation_app.pages.page import page
from remediation_app.pages.terminal.panel import terminal_panel
from remediation_app.pages.terminal.panel_state import TerminalPanelState


@page("/terminal", "Terminal", role="user", on_load=TerminalPanelState.load)
def terminal_page() -> tuple[rx.Component, ...]:
    return (
        rx.text(
            "A shell on a server, over SSH from the engine. Everything shown and typed is recorded; "
            "the session closes after a while without input.",
            size="2",
            color_scheme="gray",
            margin_bottom="1em",
        ),
        terminal_panel(height="32em"),
    )
