"""The command lines a person entered in a terminal, read back from its recording (asciicast v2 input
events, services/terminal/recording.py), for an outcome's prefilled fix.

What the recording holds is keystrokes, not commands: this replays them as a line editor would
(printable characters, Backspace, Ctrl-U, Ctrl-W, Ctrl-C; escape sequences such as arrow keys and the
bracketed-paste markers are skipped) and takes a line at each Enter. So a command recalled with the
up arrow or completed with Tab is seen as far as it was typed. A line typed after a prompt that asks
for a password, a passphrase or a code is left out (it was not echoed: a secret), and whatever the
secret scanner recognises in the others is replaced by a placeholder (the caller's Redactor).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from remediation_app.services.terminal.recording import plain_text

LINE_MAX = 2000  # characters kept of one command line
LINES_MAX = 50  # lines kept of one session (its last ones: the fix comes late)
TAIL_MAX = 400  # characters of output remembered to read the prompt a line was typed at
# Lines that say nothing about a fix.
TRIVIAL = frozenset({"exit", "logout", "clear", "reset", "history", "ls", "pwd"})
SECRET_PROMPT = re.compile(
    r"(pass(word|phrase|code)?|\bpin\b|verification code|one-time|otp|token)[^\n]*[:?]\s*$", re.IGNORECASE
)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True)
class TypedLine:
    text: str
    seconds: float  # since the recording started (when Enter was pressed)


class _LineEditor:
    """Keystrokes in, lines out (see the module)."""

    def __init__(self) -> None:
        self.buffer: list[str] = []
        self.prompt = ""  # the output's last line when the current line began
        self.tail = ""  # the last TAIL_MAX characters of output
        self.escape = ""  # an escape sequence being read ("" when none)
        self.lines: list[TypedLine] = []

    def output(self, text: str) -> None:
        self.tail = (self.tail + text)[-TAIL_MAX:]

    def _enter(self, seconds: float) -> None:
        text = "".join(self.buffer).strip()
        secret = SECRET_PROMPT.search(self.prompt) is not None
        self.buffer = []
        repeated = bool(self.lines) and self.lines[-1].text == text[:LINE_MAX]
        if text and not secret and text not in TRIVIAL and not repeated:
            self.lines.append(TypedLine(text[:LINE_MAX], seconds))
            del self.lines[:-LINES_MAX]

    def _escape_char(self, char: str) -> None:
        """One character of an escape sequence: CSI (ESC [ ... final), SS3 (ESC O x) or ESC x."""
        self.escape += char
        seq = self.escape
        if len(seq) == 2 and seq[1] not in "[O":
            self.escape = ""  # Alt+key
        elif len(seq) == 3 and seq[1] == "O":
            self.escape = ""
        elif len(seq) > 2 and seq[1] == "[" and "@" <= char <= "~":
            self.escape = ""  # arrows, Home, Delete, the bracketed-paste markers (ESC[200~, ESC[201~)
        elif len(seq) > 32:
            self.escape = ""  # not a sequence after all

    def key(self, text: str, seconds: float) -> None:
        for char in text:
            if self.escape:
                self._escape_char(char)
            elif char == "\x1b":
                self.escape = char
            elif char in "\r\n":
                self._enter(seconds)
            elif char in "\x7f\b":
                if self.buffer:
                    self.buffer.pop()
            elif char in "\x03\x15":  # Ctrl-C drops the line, Ctrl-U clears it
                self.buffer = []
            elif char == "\x17":  # Ctrl-W: the last word
                while self.buffer and self.buffer[-1] == " ":
                    self.buffer.pop()
                while self.buffer and self.buffer[-1] != " ":
                    self.buffer.pop()
            elif char == "\t" or not _CONTROL.match(char):
                if not self.buffer:
                    self.prompt = plain_text(self.tail).rsplit("\n", 1)[-1]
                if len(self.buffer) < LINE_MAX:
                    self.buffer.append(" " if char == "\t" else char)


def typed_lines(recording: str) -> list[TypedLine]:
    """The lines entered in one recording (asciicast v2 text, possibly cut short), in order.
    Linear in the recording's size: callers run it in a thread for anything large."""
    editor = _LineEditor()
    for line in recording.splitlines():
        if not line.startswith("["):
            continue  # the header, or a line cut by the recording's size limit
        try:
            event: Any = json.loads(line)
        except ValueError:
            continue
        if not (isinstance(event, list) and len(event) == 3 and isinstance(event[2], str)):
            continue
        seconds = float(event[0]) if isinstance(event[0], int | float) else 0.0
        if event[1] == "o":
            editor.output(event[2])
        elif event[1] == "i":
            editor.key(event[2], seconds)
    return editor.lines


def at_time(started_at: datetime, line: TypedLine) -> datetime:
    return started_at + timedelta(seconds=max(0.0, line.seconds))
