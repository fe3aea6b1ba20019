"""The "Send to terminal" button next to a command (an analysis' immediate action, a code block in
a chat answer) on the alert page.

It types the command into the page's terminal without pressing Enter (components/xterm.py says
how): control characters removed, and a block of several lines one line per click, never a line
break, so nothing runs until the user presses Enter there. A toast says which line of a block was
typed ("Line 1 of 3 ..."), or why nothing was (no terminal open, a full-screen program running).

Given `connected` (the page's terminal state var: TerminalPanelState.connected), the button is also
disabled, with the tooltip "Open a terminal first", while the page has no connected terminal. Chat
code blocks pass None: they are rendered inside react-markdown's component map, where a state var
would be a React hook called once per code block (React error #310 as soon as an answer adds one),
so there the toast says it.
"""

from __future__ import annotations

import reflex as rx

from remediation_app.components.xterm import paste_to_terminal

# "this page's": the terminal is beside the analysis on a wide screen, below it on a narrow one.
READY_HINT = "Type into this page's terminal (several lines: one per click); nothing runs until you press Enter there"
CLOSED_HINT = "Open a terminal first (the Terminal section of this page)"


def send_to_terminal_button(command: rx.Var[str], *, connected: rx.Var[bool] | None) -> rx.Component:
    hint: rx.Var[str] | str = rx.cond(connected, READY_HINT, CLOSED_HINT) if connected is not None else READY_HINT
    tracked = {"disabled": ~connected} if connected is not None else {}
    button = rx.button(
        rx.icon("square-terminal", size=14),
        "Send to terminal",
        on_click=paste_to_terminal(command),
        size="1",
        variant="soft",
        type="button",
        title=hint,
        class_name="send-to-terminal",
        **tracked,
    )
    return rx.el.span(button, title=hint, display="inline-block")  # the title also shows over a disabled button
