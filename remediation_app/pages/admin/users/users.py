"""Users (admins only): list, create, change role, (de)activate, reset password. The state is in
users_state.py (every handler checks the admin on the server).
"""

from __future__ import annotations

import reflex as rx

from remediation_app.components.callouts import message
from remediation_app.components.forms import password_input, username_input
from remediation_app.components.table import data_table
from remediation_app.models import Role
from remediation_app.pages.admin.users.users_state import ROLES, AdminUsersState
from remediation_app.pages.page import page


def _new_user_form() -> rx.Component:
    return rx.form(
        rx.hstack(
            username_input(id="new-username", autocomplete="off"),
            password_input(id="new-password", placeholder="Password (12+ characters)"),
            rx.select(ROLES, name="role", default_value=Role.USER.value, id="new-role"),
            rx.button("Create user", type="submit", id="create-user"),
            spacing="3",
            align="center",
        ),
        on_submit=AdminUsersState.create_user,
        reset_on_submit=True,
        id="new-user-form",
        margin_bottom="1em",
    )


def _user_row(row: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(row["username"], class_name="username")),
        rx.table.cell(
            rx.select(
                ROLES,
                value=row["role"],
                on_change=lambda role: AdminUsersState.change_role(row["id"], role),
                size="1",
                class_name="role-select",
            )
        ),
        rx.table.cell(rx.text(row["active"], class_name="active")),
        rx.table.cell(
            rx.cond(
                row["last_login"] != "",
                rx.moment(row["last_login"], format="YYYY-MM-DD HH:mm"),
                rx.text("never", color_scheme="gray"),
            ),
            class_name="last-login",
        ),
        rx.table.cell(
            rx.hstack(
                rx.cond(
                    row["active"] == "yes",
                    rx.button(
                        "Deactivate",
                        on_click=AdminUsersState.change_active(row["id"], False),
                        size="1",
                        variant="soft",
                        color_scheme="red",
                        class_name="deactivate",
                    ),
                    rx.button(
                        "Activate",
                        on_click=AdminUsersState.change_active(row["id"], True),
                        size="1",
                        variant="soft",
                        class_name="activate",
                    ),
                ),
                rx.button(
                    "Reset password",
                    on_click=AdminUsersState.open_reset(row["id"]),
                    size="1",
                    variant="soft",
                    class_name="reset-password",
                ),
                spacing="2",
            )
        ),
        class_name="user-row",
        id="user-row-" + row["username"],
    )


def _reset_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Reset password for ", AdminUsersState.reset_username),
            rx.dialog.description("Their open sessions end; they log in with the new password.", size="2"),
            rx.form(
                rx.vstack(
                    password_input(
                        id="reset-password-input", placeholder="New password (12+ characters)", width="100%"
                    ),
                    rx.hstack(
                        rx.dialog.close(rx.button("Cancel", type="button", variant="soft", color_scheme="gray")),
                        rx.button("Reset password", type="submit", id="reset-password-submit"),
                        justify="end",
                        spacing="3",
                        width="100%",
                    ),
                    spacing="3",
                ),
                on_submit=AdminUsersState.reset_password,
                reset_on_submit=True,
                id="reset-password-form",
            ),
            id="reset-dialog",
        ),
        open=AdminUsersState.reset_open,
        on_open_change=AdminUsersState.close_reset,
    )


@page("/admin/users", "Users", role="admin", on_load=AdminUsersState.load)
def admin_users_page() -> tuple[rx.Component, ...]:
    s = AdminUsersState
    return (
        message(s.error, "red", id="users-error", margin_bottom="1em"),
        message(s.notice, "green", id="users-notice", margin_bottom="1em"),
        _new_user_form(),
        data_table(["Username", "Role", "Active", "Last login", ""], s.users, _user_row, body_id="user-rows"),
        _reset_dialog(),
    )
