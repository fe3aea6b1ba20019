"""Users (admins only): list, create, change role, (de)activate, reset password. The state is in
users_state.py (every handler checks the admin on the server).
"""

from __future__ import annotations

import reflex as rx

from remediation_app.components.callouts import outcome
from remediation_app.components.forms import inline_form, password_input, username_input
from remediation_app.components.table import data_table, row_actions, row_button, time_or_never
from remediation_app.models import Role
from remediation_app.pages.admin.users.users_state import NEW_USER_FIELDS, ROLES, AdminUsersState
from remediation_app.pages.page import page


def _new_user_form() -> rx.Component:
    return inline_form(
        username_input(id=NEW_USER_FIELDS[0], autocomplete="off"),
        password_input(id=NEW_USER_FIELDS[1], placeholder="Password (12+ characters)"),
        rx.select(ROLES, name="role", default_value=Role.USER.value, id="new-role"),
        rx.button("Create user", type="submit", id="create-user"),
        on_submit=AdminUsersState.create_user,
        id="new-user-form",
        reset_on_submit=False,  # create_user empties it once the user is created: a refusal keeps it
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
        rx.table.cell(time_or_never(row["last_login"]), class_name="last-login"),
        rx.table.cell(
            row_actions(
                rx.cond(
                    row["active"] == "yes",
                    row_button(
                        "Deactivate",
                        AdminUsersState.change_active(row["id"], False),
                        color_scheme="red",
                        class_name="deactivate",
                    ),
                    row_button("Activate", AdminUsersState.change_active(row["id"], True), class_name="activate"),
                ),
                row_button("Reset password", AdminUsersState.open_reset(row["id"]), class_name="reset-password"),
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
        outcome(s, "users"),
        _new_user_form(),
        data_table(["Username", "Role", "Active", "Last login", ""], s.users, _user_row, body_id="user-rows"),
        _reset_dialog(),
    )
