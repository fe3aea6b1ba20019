"""The users page's state (admins only): list, create, change role, (de)activate, reset password.

Every handler checks the admin on the server first (AdminState; the page's on_load is only a
convenience). Passwords come in as form data (the event's payload), are used once and never stored
in a state var; the browser empties the forms on submit. Each change goes through services.users,
which audits it with the caller's address. The new-user form is emptied only once the user is
created: a refusal (a too short password, a taken name) leaves what the admin typed to correct.
"""

from __future__ import annotations

from typing import Any

import reflex as rx
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.db import TRANSIENT_DB_ERRORS, async_session
from remediation_app.models import Role, User
from remediation_app.pages.admin.kit_state import AdminState, Change
from remediation_app.services import users
from remediation_app.services.events import bus
from remediation_app.state import UNAVAILABLE, USERS_TOPIC, parse_id

ROLES = [r.value for r in Role]
# The new-user form's typed fields, emptied once the user is created (by ref: no script, which the
# Content-Security-Policy would refuse to eval).
NEW_USER_FIELDS = ("new-username", "new-password")


def _row(user: User) -> dict[str, str]:
    public = users.user_public(user)
    return {
        "id": str(public["id"]),
        "username": str(public["username"]),
        "role": str(public["role"]),
        "active": "yes" if public["is_active"] else "no",
        "last_login": str(public["last_login_at"] or ""),
    }


class AdminUsersState(AdminState, rx.State):
    users: list[dict[str, str]] = []
    # The reset-password dialog: whose password (never the password itself).
    reset_open: bool = False
    reset_user_id: str = ""
    reset_username: str = ""

    async def _load(self) -> None:
        try:
            async with async_session() as session:
                self.users = [_row(u) for u in await users.list_users(session)]
        except TRANSIENT_DB_ERRORS:
            self.users, self.error = [], UNAVAILABLE

    def _close_dialog(self) -> None:
        self.reset_open, self.reset_user_id, self.reset_username = False, "", ""

    async def _change(self, change: Change, *, announce: bool = True, close_dialog: bool = False) -> bool:
        """Make the change (committed with its audit event), show the outcome, show the users again.
        Returns whether it was done."""
        done = await self._apply(change, refused=(users.UserError,), exists="That user already exists.")
        if done:
            if close_dialog:
                self._close_dialog()
            if announce:
                await bus.publish(USERS_TOPIC)  # that user's open tabs re-check their login now
        await self._load()
        return done

    @rx.event
    async def create_user(self, form_data: dict[str, Any]):
        username = str(form_data.get("username", "")).strip()
        password = str(form_data.get("password", ""))
        role = str(form_data.get("role", "") or Role.USER.value)

        async def change(session: AsyncSession, actor: User, address: str) -> str:
            await users.create_user(
                session, actor=actor, username=username, password=password, role=role, address=address
            )
            return f"Created user {username}."

        if await self._change(change, announce=False):
            return [rx.set_value(field, "") for field in NEW_USER_FIELDS]
        return None

    @rx.event
    async def change_role(self, user_id: str, role: str):
        target = parse_id(user_id) or 0

        async def change(session: AsyncSession, actor: User, address: str) -> str:
            await users.set_role(session, actor=actor, user_id=target, role=str(role), address=address)
            return f"Role changed to {role}."

        await self._change(change)

    @rx.event
    async def change_active(self, user_id: str, active: bool):
        target, active = parse_id(user_id) or 0, active is True or str(active).lower() == "true"

        async def change(session: AsyncSession, actor: User, address: str) -> str:
            await users.set_active(session, actor=actor, user_id=target, active=active, address=address)
            return "User activated." if active else "User deactivated."

        await self._change(change)

    @rx.event
    async def open_reset(self, user_id: str):
        await self._load()
        row = next((u for u in self.users if u["id"] == str(parse_id(user_id))), None)
        if row is None:
            self._fail("no such user")
            return
        self.reset_user_id, self.reset_username, self.reset_open = row["id"], row["username"], True
        self.error = self.notice = ""

    @rx.event
    async def close_reset(self, open_: bool = False):
        if not open_:
            self._close_dialog()

    @rx.event
    async def reset_password(self, form_data: dict[str, Any]):
        target, username = parse_id(self.reset_user_id) or 0, self.reset_username
        password = str(form_data.get("password", ""))

        async def change(session: AsyncSession, actor: User, address: str) -> str:
            await users.reset_password(session, actor=actor, user_id=target, password=password, address=address)
            return f"Password reset for {username}."

        await self._change(change, close_dialog=True)
