"""xterm.js in the browser: a live SSH terminal (`xterm_terminal`) and a recording's replay (`xterm_replay`).

Both live in xterm_terminal.jsx (copied next to the build with rx.asset) and render only in the
browser (NoSSRComponent: xterm needs `window`).

`xterm_terminal(ticket=...)` opens /ws/terminal on the app's own origin (ws:// or wss://, the host
and port of Reflex's socket) as soon as it has a ticket, and speaks the protocol of
services/terminal/bridge.py: the auth message with the fitted size, input and resize messages, binary
output written to the screen, and an ack after every 32 KB (or 50 ms) of output xterm has
processed (the server holds the remote program back until then). A new ticket (they are one-time)
reconnects; an empty one closes the terminal. The outcome is written into the terminal
(`[session closed: exit status 0]`, `[error: ...]`, `[disconnected]`) and reported through
`on_status(kind, message)`: kind is "ready", "exit", "error" or "closed".

Typing into the terminal (for "Send to terminal" buttons): the page gets a global
`window.__reTerminalPaste(text)` that types `text` into the terminal opened or focused last, as
keystrokes (an input message on the terminal's WebSocket, like the keyboard's), never as a paste
and never with a line break:

- Nothing that comes from a model or an alert runs without the user's keystroke: every control
  character is removed (CR and LF would press Enter, Ctrl-C or Ctrl-D would act, an ESC could start
  a key sequence), tabs become spaces (a tab would trigger the shell's completion).
- Several lines are never sent at once, whatever the terminal reports: bracketed paste is a mode
  the remote side switches on (`ESC[?2004h` in a program's output, a log line, a motd) even where
  nothing honours it (a plain `sh`), so a paste could run every line but the last. Instead each
  call with the same text types its next line (blank lines skipped; after the last it starts over)
  and returns `{line, lines, message}`: "Line 1 of 3 typed ..., press Enter there to run it, then
  Send to terminal again for line 2". A single line returns true.
- It refuses (returns a sentence) when no terminal is open, it is not connected, or a full-screen
  program (the alternate screen: an editor, a pager) would take the text as its commands; a
  terminal in a closed `<details>` is unfolded.

From Python use `paste_to_terminal(text)` as an event: it shows the refusal as a warning toast and
the line-of-block note as an info toast (one toast, replaced at each click). Tests read the screen
through `window.__xterm` (the last live terminal) and `window.__xtermReplay`.

`xterm_replay(src=..., speed=...)` fetches an asciicast v2 recording from `src` (an API path; the
login cookie authenticates it), streaming, and writes its output with the recorded timing divided
by `speed` (pauses capped at 2 s); `speed=0` writes it all at once. Read-only.
"""

from __future__ import annotations

import json

import reflex as rx
from reflex.event import EventSpec
from reflex.vars import FunctionStringVar, VarData
from reflex_components_sonner.toast import toast_ref

_JSX = rx.asset("xterm_terminal.jsx", shared=True)
LIB_DEPENDENCIES = ["@xterm/xterm@6.0.0", "@xterm/addon-fit@0.11.0"]


def _status(kind: rx.Var[str], message: rx.Var[str]) -> tuple[rx.Var[str], rx.Var[str]]:
    """on_status(kind, message) passes both strings to the handler."""
    return kind, message


class XTerm(rx.NoSSRComponent):
    """A live terminal bound to one ticket."""

    library = f"$/public{_JSX}"
    tag = "XTermTerminal"
    lib_dependencies: list[str] = LIB_DEPENDENCIES

    ticket: rx.Var[str]
    on_status: rx.EventHandler[_status]  # type: ignore[valid-type]


class XTermReplay(rx.NoSSRComponent):
    """A read-only replay of a recording."""

    library = f"$/public{_JSX}"
    tag = "XTermReplay"
    lib_dependencies: list[str] = LIB_DEPENDENCIES

    src: rx.Var[str]
    speed: rx.Var[float]
    on_status: rx.EventHandler[_status]  # type: ignore[valid-type]


xterm_terminal = XTerm.create
xterm_replay = XTermReplay.create


def paste_to_terminal(text: str | rx.Var[str], *, toast: bool = True) -> EventSpec:
    """Type `text` (a string, or a Var such as a code block's command in rx.foreach) into the open
    terminal without pressing Enter, one line per click for several lines (see the module's
    docstring). With `toast`, why nothing was typed, or which line of a block was, is shown as a
    toast, in the browser (no round trip: a toast or callback sent by the server is a string the
    browser would `eval`, which the app's Content-Security-Policy refuses)."""
    none_open = json.dumps("Open a terminal first.")
    argument = json.dumps(text) if isinstance(text, str) else f"String({text})"
    body = f"const r = window.__reTerminalPaste ? window.__reTerminalPaste({argument}) : {none_open};"
    if toast:
        shown = '{ id: "terminal-paste" }'
        body += (
            f" if (typeof r === 'string') {toast_ref}?.warning(r, {shown});"
            f" else if (r && r.message) {toast_ref}?.info(String(r.message), {shown});"
        )
    paste: FunctionStringVar = FunctionStringVar(
        _js_expr=f"(() => {{ {body} return r; }})",
        _var_data=VarData.merge(
            None if isinstance(text, str) else text._get_all_var_data(),
            toast_ref._get_all_var_data() if toast else None,
        ),
    )
    return rx.call_function(paste)
