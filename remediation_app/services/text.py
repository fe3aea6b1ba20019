"""Text PostgreSQL can store.

PostgreSQL refuses NUL characters in text (and JSON) columns, and a lone UTF-16 surrogate (JSON
allows "\\ud800") cannot even be encoded as UTF-8. Untrusted text that is kept (alert payloads,
model output, provider errors) goes through `storable_text`; input that must be refused instead
(a password, a secret, a rule's field) is checked with `is_storable`.
"""

from __future__ import annotations

REPLACEMENT = "\ufffd"


def is_storable(text: str) -> bool:
    """Whether PostgreSQL can store `text` as it is: no NUL character, no lone surrogate."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def storable_text(text: str) -> str:
    """`text` with every NUL character and lone surrogate replaced by U+FFFD (the rest unchanged)."""
    if "\x00" in text:
        text = text.replace("\x00", REPLACEMENT)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # Through UTF-16: a surrogate pair written as two code points is joined, a lone one replaced.
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text
