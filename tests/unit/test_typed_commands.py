"""Command lines read back from a terminal recording's keystrokes (services/memory/typed.py): edits are
replayed, escape sequences skipped, a line typed at a password prompt left out."""

from __future__ import annotations

import json

from remediation_app.services.memory.typed import LINE_MAX, LINES_MAX, typed_lines


def cast(*events: tuple[float, str, str]) -> str:
    header = json.dumps({"version": 2, "width": 80, "height": 24})
    return "\n".join([header, *(json.dumps(list(e)) for e in events)]) + "\n"


def test_keystrokes_become_lines_with_the_time_of_enter():
    text = cast(
        (0.1, "o", "$ "),
        (0.5, "i", "systemctl restrat"),
        (0.6, "i", "\x7f\x7f\x7fart nginx"),  # Backspace corrects the typo
        (0.7, "i", "\r"),
        (1.0, "i", "rm -rf /\x03"),  # Ctrl-C: never entered
        (1.2, "i", "\x1b[A\x1b[B"),  # arrows: nothing typed
        (1.5, "i", "\x1b[200~journalctl -u nginx | tail\x1b[201~"),  # a paste (bracketed)
        (1.6, "i", "\r"),
        (2.0, "i", "wrong words\x17\x17df -h /var\r"),  # Ctrl-W twice removes both words
        (2.1, "i", "df -h /var\r"),  # the same line again: kept once
        (2.2, "i", "exit\r"),  # says nothing about a fix
    )
    lines = typed_lines(text)
    assert [(line.text, line.seconds) for line in lines] == [
        ("systemctl restart nginx", 0.7),
        ("journalctl -u nginx | tail", 1.6),
        ("df -h /var", 2.0),
    ]


def test_a_line_typed_at_a_password_prompt_is_left_out():
    text = cast(
        (0.1, "o", "$ "),
        (0.2, "i", "sudo systemctl restart db\r"),
        (0.3, "o", "\r\n[sudo] password for alice: "),
        (0.4, "i", "hunter2-secret\r"),
        (0.5, "o", "\r\n\x1b[32m$\x1b[0m "),
        (0.6, "i", "mysql -u root -p\r"),
        (0.7, "o", "\r\nEnter password: "),
        (0.8, "i", "s3cret\r"),
        (0.9, "o", "\r\nmysql> "),
        (1.0, "i", "show processlist;\r"),
    )
    assert [line.text for line in typed_lines(text)] == [
        "sudo systemctl restart db",
        "mysql -u root -p",
        "show processlist;",
    ]


def test_damaged_or_huge_recordings_stay_bounded():
    long_line = "x" * (LINE_MAX + 500)
    events = [(0.1, "i", long_line + "\r")] + [(1.0 + n, "i", f"echo {n}\r") for n in range(LINES_MAX + 10)]
    text = cast(*events) + '[1.0, "i", "cut in the midd'  # the recording's size limit cut a line
    lines = typed_lines(text + "\nnot json\n[1, 2]\n")
    assert len(lines) == LINES_MAX and lines[-1].text == f"echo {LINES_MAX + 9}"
    assert all(len(line.text) <= LINE_MAX for line in lines)
    assert typed_lines("") == [] and typed_lines("garbage") == []
