"""The blocks a page is made of: a titled section (the alert page's parts) and a titled card."""

from __future__ import annotations

from typing import Any

import reflex as rx


def section(title: str, *children: rx.Component, **props: Any) -> rx.Component:
    """A part of a long page under its heading."""
    return rx.vstack(rx.heading(title, size="4"), *children, width="100%", spacing="2", margin_top="1.25em", **props)


def card(title: Any, *children: rx.Component, intro: Any = (), **props: Any) -> rx.Component:
    """A card: its heading, what it is for (`intro`: a text, or a tuple of parts; in gray), then `children`."""
    parts = intro if isinstance(intro, tuple) else (intro,)
    return rx.card(
        rx.vstack(
            rx.heading(title, size="4"),
            *([rx.text(*parts, size="2", color_scheme="gray")] if parts else []),
            *children,
            spacing="3",
            width="100%",
        ),
        width="100%",
        **props,
    )
