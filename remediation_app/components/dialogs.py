"""The foot of a confirmation dialog: Cancel, and the button that does it."""

from __future__ import annotations

import reflex as rx


def confirm_buttons(confirm: rx.Component) -> rx.Component:
    return rx.hstack(
        rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", color_scheme="gray")),
        rx.alert_dialog.action(confirm),
        justify="end",
        spacing="3",
        margin_top="1em",
    )
