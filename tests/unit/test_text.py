"""Text PostgreSQL can store (services/text.py): NUL characters and lone surrogates replaced or refused."""

from __future__ import annotations

import json

import pytest

from remediation_app.services.text import is_storable, storable_text


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("a\x00b\x00", "a\ufffdb\ufffd"),
        ("\ud800", "\ufffd"),
        ("x\udfffy", "x\ufffdy"),
        ("\x00\ud800", "\ufffd\ufffd"),
        ("\ud83d\ude00", "😀"),  # a surrogate pair written as two code points is one character
        ("emoji 😀 RTL שלום e\u0301", "emoji 😀 RTL שלום e\u0301"),
        ("plain", "plain"),
        ("", ""),
    ],
)
def test_storable_text_replaces_what_postgresql_refuses(raw: str, clean: str) -> None:
    assert storable_text(raw) == clean
    assert is_storable(storable_text(raw))
    storable_text(raw).encode("utf-8")
    assert is_storable(raw) is (raw == clean)


def test_storable_text_stays_json() -> None:
    assert json.loads(json.dumps(storable_text("a\x00\ud800b"))) == "a\ufffd\ufffdb"
