"""The page frame: navigation bar and content column."""

import reflex as rx

from remediation_app.styles import PAGE_MAX_WIDTH


def layout(*children: rx.Component, title: str) -> rx.Component:
    return rx.box(
        rx.hstack(
            rx.link(rx.heading("Remediation Engine", size="5"), href="/", underline="none"),
            rx.spacer(),
            rx.link("Alerts", href="/"),
            rx.link("API docs", href="/docs", is_external=True),
            align="center",
            spacing="5",
            padding="0.75em 1.5em",
            border_bottom="1px solid var(--gray-a5)",
        ),
        rx.box(
            rx.heading(title, size="6", margin_bottom="0.75em"),
            *children,
            padding="1.25em 1.5em",
            max_width=PAGE_MAX_WIDTH,
            margin="0 auto",
        ),
    )
