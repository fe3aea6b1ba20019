"""Login and password inputs, the same on every form that takes them (login, account, users); the
browser posts or submits their values once, none of them is ever a state var. And the shapes of
the forms and inputs that pages share."""

from __future__ import annotations

from typing import Any

import reflex as rx

from remediation_app.services.auth import MAX_USERNAME
from remediation_app.services.users import MAX_PASSWORD


def username_input(*, id: str, autocomplete: str, **props: Any) -> rx.Component:
    return rx.input(
        name="username",
        placeholder="Username",
        id=id,
        required=True,
        max_length=MAX_USERNAME,
        auto_complete=autocomplete,
        **props,
    )


def password_input(*, id: str, name: str = "password", autocomplete: str = "new-password", **props: Any):
    """`autocomplete`: "current-password" where the user types the one they have, else a new one."""
    return rx.input(
        name=name,
        type="password",
        id=id,
        required=True,
        max_length=MAX_PASSWORD,
        auto_complete=autocomplete,
        **props,
    )


def inline_form(
    *controls: rx.Component, on_submit: Any, id: str, reset_on_submit: bool = True, **props: Any
) -> rx.Component:
    """A one-line form, emptied once it is submitted (what it held is never kept by the page).
    `reset_on_submit=False`: its handler empties it only once the change is done, so that a refusal
    leaves what was typed to correct."""
    return rx.form(
        rx.hstack(*controls, spacing="3", align="center"),
        on_submit=on_submit,
        reset_on_submit=reset_on_submit,
        id=id,
        **props,
    )


def code_area(value: Any, on_change: Any, *, id: str, placeholder: str, rows: str) -> rx.Component:
    """A monospace text area for a document typed or pasted whole (YAML, JSON)."""
    return rx.text_area(
        value=value,
        on_change=on_change,
        placeholder=placeholder,
        id=id,
        rows=rows,
        width="100%",
        font_family="monospace",
    )
