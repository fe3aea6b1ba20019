"""Users (admins only): list, create, change role, (de)activate, reset password.

Every handler checks the admin on the server first (the page's on_load is only a convenience).
Passwords come in as form data (the event's payload), are used once and never stored in a state
var; the browser empties the forms on submit. Each change goes through services.users, which
audits it with the caller's address.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import reflex as rx
import sqlalchemy as sa
from reflex.event import EventSpec
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.db import TRANSIENT_DB_ERRORS, async_session
from remediation_app.layout import layout
from remediation_app.models import Role, User
from remediation_app.services import users
from remediation_app.services.events import bus
from remediation_app.state import USERS_TOPIC, admin_or_refusal, client_address

ROLES = [r.value for r in Role]
UNAVAILABLE = "The database is unavailable; try again in a moment."


def _row(user: User) -> dict[str, str]:
    public = users.user_public(user)
    return {
        "id": str(public["id"]),
        "username": str(public["username"]),
        "role": str(public["role"]),
        "active": "yes" if public["is_active"] else "no",
        "last_login": str(public["last_login_at"] or ""),
    }


def _user_id(value: object) -> int:
    text = str(value)
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 10 else 0


class AdminUsersState(rx.State):
    users: list[dict[str, str]] = []
    error: str = ""
    notice: str = ""
    # The reset-password dialog: whose password (never the password itself).
    reset_open: bool = False
    reset_user_id: str = ""
    reset_username: str = ""

    def _forget(self) -> None:
        self.users, self.error, self.notice = [], "", ""
        self.reset_open, self.reset_user_id, self.reset_username = False, "", ""

    async def _admin(self) -> User | EventSpec:
        """The admin, or (after forgetting everything shown) the redirect refusing this tab."""
        outcome = await admin_or_refusal(self)
        if not isinstance(outcome, User):
            self._forget()
        return outcome

    async def _reload(self) -> None:
        try:
            async with async_session() as session:
                self.users = [_row(u) for u in await users.list_users(session)]
        except TRANSIENT_DB_ERRORS:
            self.users, self.error = [], UNAVAILABLE

    async def _change(
        self,
        change: Callable[[AsyncSession, User, str], Awaitable[User]],
        done: str,
        *,
        announce: bool = True,
        close_dialog: bool = False,
    ) -> EventSpec | None:
        """Check the admin, make the change (committed with its audit event), show the outcome.
        Returns the redirect that refuses the tab, if it is refused."""
        actor = await self._admin()
        if not isinstance(actor, User):
            return actor
        try:
            async with async_session() as session:
                await change(session, actor, client_address(self))
                await session.commit()
        except users.UserError as exc:
            self.error, self.notice = str(exc), ""
        except sa.exc.IntegrityError:
            self.error, self.notice = "That user already exists.", ""
        except TRANSIENT_DB_ERRORS:
            self.error, self.notice = UNAVAILABLE, ""
        else:
            self.error, self.notice = "", done
            if close_dialog:
                self.reset_open, self.reset_user_id, self.reset_username = False, "", ""
            if announce:
                await bus.publish(USERS_TOPIC)  # that user's open tabs re-check their login now
        await self._reload()
        return None

    @rx.event
    async def load(self):
        actor = await self._admin()
        if not isinstance(actor, User):
            return actor
        self.error = self.notice = ""
        await self._reload()
        return None

    @rx.event
    async def create_user(self, form_data: dict[str, Any]):
        username = str(form_data.get("username", "")).strip()
        password = str(form_data.get("password", ""))
        role = str(form_data.get("role", "") or Role.USER.value)

        async def change(session: AsyncSession, actor: User, address: str) -> User:
            return await users.create_user(
                session, actor=actor, username=username, password=password, role=role, address=address
            )

        return await self._change(change, f"Created user {username}.", announce=False)

    @rx.event
    async def change_role(self, user_id: str, role: str):
        target = _user_id(user_id)

        async def change(session: AsyncSession, actor: User, address: str) -> User:
            return await users.set_role(session, actor=actor, user_id=target, role=str(role), address=address)

        return await self._change(change, f"Role changed to {role}.")

    @rx.event
    async def change_active(self, user_id: str, active: bool):
        target, active = _user_id(user_id), active is True or str(active).lower() == "true"

        async def change(session: AsyncSession, actor: User, address: str) -> User:
            return await users.set_active(session, actor=actor, user_id=target, active=active, address=address)

        return await self._change(change, "User activated." if active else "User deactivated.")

    @rx.event
    async def open_reset(self, user_id: str):
        actor = await self._admin()
        if not isinstance(actor, User):
            return actor
        await self._reload()
        row = next((u for u in self.users if u["id"] == str(_user_id(user_id))), None)
        if row is None:
            self.error, self.notice = "no such user", ""
            return None
        self.reset_user_id, self.reset_username, self.reset_open = row["id"], row["username"], True
        self.error = self.notice = ""
        return None

    @rx.event
    async def close_reset(self, open_: bool = False):
        actor = await self._admin()
        if not isinstance(actor, User):
            return actor
        if not open_:
            self.reset_open, self.reset_user_id, self.reset_username = False, "", ""
        return None

    @rx.event
    async def reset_password(self, form_data: dict[str, Any]):
        target = _user_id(self.reset_user_id)
        password = str(form_data.get("password", ""))

        async def change(session: AsyncSession, actor: User, address: str) -> User:
            return await users.reset_password(session, actor=actor, user_id=target, password=password, address=address)

        return await self._change(change, f"Password reset for {self.reset_username}.", close_dialog=True)


def _new_user_form() -> rx.Component:
    return rx.form(
        rx.hstack(
            rx.input(
                name="username",
                placeholder="Username",
                id="new-username",
                required=True,
                max_length=150,
                auto_complete="off",
            ),
            rx.input(
                name="password",
                type="password",
                placeholder="Password (12+ characters)",
                id="new-password",
                required=True,
                max_length=1024,
                auto_complete="new-password",
            ),
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


def _users_table() -> rx.Component:
    headers = ["Username", "Role", "Active", "Last login", ""]
    return rx.table.root(
        rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in headers])),
        rx.table.body(rx.foreach(AdminUsersState.users, _user_row), id="user-rows"),
        width="100%",
        variant="surface",
    )


def _reset_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Reset password for ", AdminUsersState.reset_username),
            rx.dialog.description("Their open sessions end; they log in with the new password.", size="2"),
            rx.form(
                rx.vstack(
                    rx.input(
                        name="password",
                        type="password",
                        placeholder="New password (12+ characters)",
                        id="reset-password-input",
                        required=True,
                        max_length=1024,
                        auto_complete="new-password",
                        width="100%",
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


def admin_users_page() -> rx.Component:
    return layout(
        rx.cond(
            AdminUsersState.error != "",
            rx.callout(AdminUsersState.error, color_scheme="red", id="users-error", margin_bottom="1em"),
        ),
        rx.cond(
            AdminUsersState.notice != "",
            rx.callout(AdminUsersState.notice, color_scheme="green", id="users-notice", margin_bottom="1em"),
        ),
        _new_user_form(),
        _users_table(),
        _reset_dialog(),
        title="Users",
    )
