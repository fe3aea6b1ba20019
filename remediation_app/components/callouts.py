"""A page's messages: a callout shown only while its text is not empty."""

from __future__ import annotations

from typing import Any

import reflex as rx


def message(text: Any, color: str, **props: Any) -> rx.Component:
    """`text` is a state var: an error (red), a notice (green), a hint (gray)..."""
    return rx.cond(text != "", rx.callout(text, color_scheme=color, **props))
