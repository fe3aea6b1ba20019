"""A page's messages: a callout shown only while its text is not empty."""

from __future__ import annotations

from typing import Any

import reflex as rx


def message(text: Any, color: str, **props: Any) -> rx.Component:
    """`text` is a state var: an error (red), a notice (green), a hint (gray)..."""
    return rx.cond(text != "", rx.callout(text, color_scheme=color, **props))


def outcome(state: Any, prefix: str) -> rx.Component:
    """The outcome of a page's last action: `state.error` (red, id `<prefix>-error`) and
    `state.notice` (green, id `<prefix>-notice`); the states set one and clear the other."""
    return rx.fragment(
        message(state.error, "red", id=f"{prefix}-error", margin_bottom="1em"),
        message(state.notice, "green", id=f"{prefix}-notice", margin_bottom="1em"),
    )
