"""Login and password inputs, the same on every form that takes them (login, account, users).

The browser posts or submits their values once; none of them is ever a state var.
"""

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
