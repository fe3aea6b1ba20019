"""The SSH servers page's state (admins only): list, add, edit, delete, and host-key pinning.

Every handler checks the admin on the server first. Credentials (private key, passphrase,
password) are write-only: they arrive in the form's payload, go straight to services.ssh_servers
(which encrypts them) and are never kept in a state var; the page only knows whether one is
stored. On edit an empty field keeps the stored secret and a "remove" box removes it.

"Fetch host key" shows the key the server presents now (algorithm and SHA256 fingerprint) and
whether it is the accepted one; "Accept this key" pins exactly the fingerprint shown (the service
fetches again and refuses if the server now presents another key).
"""

from __future__ import annotations

from typing import Any

import reflex as rx
import sqlalchemy as sa
from reflex.event import EventSpec

from remediation_app.db import TRANSIENT_DB_ERRORS, async_session
from remediation_app.models import Role, SSHServer, User
from remediation_app.services import ssh_servers
from remediation_app.state import admin_or_refusal, admin_outside_lock, client_address

UNAVAILABLE = "The database is unavailable; try again in a moment."
SECRETS = ("private_key", "passphrase", "password")
KEY_FIELDS = ("key_status", "key_fingerprint", "key_algorithm", "key_match", "key_error")


def _blank_form() -> dict[str, str]:
    return {
        "name": "",
        "host": "",
        "port": "22",
        "username": "",
        "auth_method": "key",
        "environment": "",
        "role_admin": "true",
        "role_user": "",
        "has_private_key": "",
        "has_passphrase": "",
        "has_password": "",
    }


def _row(public: dict[str, Any]) -> dict[str, str]:
    return {
        "id": str(public["id"]),
        "name": str(public["name"]),
        "host": str(public["host"]),
        "port": str(public["port"]),
        "username": str(public["username"]),
        "auth_method": str(public["auth_method"]),
        "environment": str(public["environment"]),
        "allowed_roles": ", ".join(public["allowed_roles"]),
        "credentials": ", ".join(
            label
            for flag, label in (
                ("has_private_key", "key"),
                ("has_passphrase", "passphrase"),
                ("has_password", "password"),
            )
            if public[flag]
        )
        or "none",
        "fingerprint": str(public["host_key_fingerprint"] or ""),
        "accepted_by": str(public["host_key_accepted_by"] or ""),
        **dict.fromkeys(KEY_FIELDS, ""),
    }


def _server_id(value: object) -> int | None:
    text = str(value)
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 10 and int(text) > 0 else None


def _checked(value: object) -> bool:
    return value is True or str(value).lower() in ("on", "true", "1", "yes")


def server_input(form_data: dict[str, Any], *, editing: bool) -> ssh_servers.ServerInput:
    """The service's input from the form: a secret left empty is kept (None), "remove" clears it."""
    secrets: dict[str, str | None] = {}
    for field in SECRETS:
        value, remove = str(form_data.get(field, "")), _checked(form_data.get(f"remove_{field}"))
        if value and remove:
            raise ssh_servers.ServerError(field, f"type a new {field.replace('_', ' ')} or tick 'remove', not both")
        secrets[field] = "" if remove and editing else (value or None)
    port_text = str(form_data.get("port", "22")).strip() or "22"
    if not (port_text.isascii() and port_text.isdigit() and len(port_text) <= 5):
        raise ssh_servers.ServerError("port", "between 1 and 65535")
    roles = tuple(r.value for r in Role if _checked(form_data.get(f"role_{r.value}")))
    return ssh_servers.ServerInput(
        name=str(form_data.get("name", "")),
        host=str(form_data.get("host", "")),
        username=str(form_data.get("username", "")),
        port=int(port_text),
        auth_method=str(form_data.get("auth_method", "key")),
        environment=str(form_data.get("environment", "")),
        allowed_roles=roles,
        **secrets,
    )


async def _load_rows() -> list[dict[str, str]] | None:
    try:
        async with async_session() as session:
            stored = await ssh_servers.list_servers(session)
    except TRANSIENT_DB_ERRORS:
        return None
    return [_row(ssh_servers.server_public(r)) for r in stored]


class AdminServersState(rx.State):
    rows: list[dict[str, str]] = []
    loaded: bool = False
    error: str = ""
    notice: str = ""
    # The form: "" adds a server, else the id of the one being edited. Never holds a secret.
    editing_id: str = ""
    form: dict[str, str] = _blank_form()
    form_key: int = 0
    # Host keys fetched by server id (the KEY_FIELDS), merged into rows at each load.
    _keys: dict[str, dict[str, str]] = {}

    def _forget(self) -> None:
        self.rows, self.loaded, self.error, self.notice = [], False, "", ""
        self.editing_id, self.form, self._keys = "", _blank_form(), {}

    async def _admin(self) -> User | EventSpec:
        """The admin, or (after forgetting everything shown) the redirect refusing this tab."""
        outcome = await admin_or_refusal(self)
        if not isinstance(outcome, User):
            self._forget()
        return outcome

    def _merge_keys(self) -> None:
        blank = dict.fromkeys(KEY_FIELDS, "")
        self.rows = [{**row, **self._keys.get(row["id"], blank)} for row in self.rows]

    async def _reload(self) -> None:
        self._show(await _load_rows())

    def _show(self, rows: list[dict[str, str]] | None) -> None:
        """The listing as loaded (None: the database was unavailable)."""
        if rows is None:
            self.rows, self.loaded, self.error = [], False, UNAVAILABLE
            return
        self.rows, self.loaded = rows, True
        self._merge_keys()

    def _reset_form(self) -> None:
        self.editing_id, self.form, self.form_key = "", _blank_form(), self.form_key + 1

    def _failed(self, message: str) -> None:
        self.error, self.notice = message, ""

    @rx.event
    async def load(self):
        if not isinstance(admin := await self._admin(), User):
            return admin
        self.error = self.notice = ""
        self._reset_form()
        await self._reload()
        return None

    @rx.event
    async def start_edit(self, server_id: str):
        if not isinstance(admin := await self._admin(), User):
            return admin
        wanted = _server_id(server_id)
        try:
            async with async_session() as session:
                row = await session.get(SSHServer, wanted) if wanted else None
        except TRANSIENT_DB_ERRORS:
            return self._failed(UNAVAILABLE)
        if row is None:
            self._failed("No such server (deleted meanwhile?).")
            await self._reload()
            return None
        public = ssh_servers.server_public(row)
        self.form = {
            **{k: str(public[k]) for k in ("name", "host", "port", "username", "auth_method", "environment")},
            **{f"role_{r.value}": "true" if r.value in row.allowed_roles else "" for r in Role},
            **{f"has_{k}": "true" if public[f"has_{k}"] else "" for k in SECRETS},
        }
        self.editing_id, self.form_key = str(row.id), self.form_key + 1
        self.error = self.notice = ""
        return None

    @rx.event
    async def cancel_edit(self):
        if not isinstance(admin := await self._admin(), User):
            return admin
        self._reset_form()
        self.error = ""
        return None

    @rx.event
    async def save_server(self, form_data: dict[str, Any]):
        if not isinstance(admin := await self._admin(), User):
            return admin
        server_id = _server_id(self.editing_id) if self.editing_id else None
        try:
            data = server_input(form_data, editing=server_id is not None)
            async with async_session() as session:
                row = await ssh_servers.save_server(
                    session, data, server_id=server_id, actor=admin, address=client_address(self)
                )
                await session.commit()
                name = row.name
        except ssh_servers.ServerError as exc:  # names the field, never the secret
            return self._failed(str(exc))
        except sa.exc.IntegrityError:
            return self._failed("name: a server with that name exists")
        except TRANSIENT_DB_ERRORS:
            return self._failed(UNAVAILABLE)
        self.error, self.notice = "", f"Saved server {name}."
        self._keys = {k: v for k, v in self._keys.items() if k != str(server_id)}
        self._reset_form()
        await self._reload()
        return None

    @rx.event
    async def delete_server(self, server_id: str):
        if not isinstance(admin := await self._admin(), User):
            return admin
        wanted = _server_id(server_id)
        try:
            async with async_session() as session:
                if not wanted:
                    raise ssh_servers.ServerError("id", "no such server")
                await ssh_servers.delete_server(session, wanted, actor=admin, address=client_address(self))
                await session.commit()
        except ssh_servers.ServerError as exc:
            self._failed(str(exc))
        except TRANSIENT_DB_ERRORS:
            self._failed(UNAVAILABLE)
        else:
            self.error, self.notice = "", "Server deleted."
            self._keys = {k: v for k, v in self._keys.items() if k != str(wanted)}
            if self.editing_id == str(wanted):
                self._reset_form()
        await self._reload()
        return None

    def _set_key(self, server_id: str, **values: str) -> None:
        self._keys = {**self._keys, server_id: {**dict.fromkeys(KEY_FIELDS, ""), **values}}
        self._merge_keys()

    @rx.event(background=True)
    async def fetch_host_key(self, server_id: str):
        """Ask the server for its host key (no login), outside the state lock (up to 10 s)."""
        checked = await admin_outside_lock(self)
        async with self:
            if checked is None:
                return await self._admin()  # refuses the tab (and forgets what it showed)
            wanted = _server_id(server_id)
            if wanted is None:
                return None
            self._set_key(str(wanted), key_status="fetching")
        try:
            async with async_session() as session:
                row = await session.get(SSHServer, wanted)
            if row is None:
                raise ssh_servers.ServerError("id", "no such server (deleted meanwhile?)")
            key = await ssh_servers.fetch_host_key(row.host, row.port)
        except ssh_servers.ServerError as exc:
            values = {"key_status": "failed", "key_error": str(exc)}
        except TRANSIENT_DB_ERRORS:
            values = {"key_status": "failed", "key_error": UNAVAILABLE}
        else:
            match = (
                "new"
                if not row.host_key_fingerprint
                else "yes"
                if key.fingerprint == row.host_key_fingerprint
                else "no"
            )
            values = {
                "key_status": "fetched",
                "key_fingerprint": key.fingerprint,
                "key_algorithm": key.algorithm,
                "key_match": match,
            }
        async with self:
            self._set_key(str(wanted), **values)
        return None

    @rx.event(background=True)
    async def accept_host_key(self, server_id: str):
        """Pin the key whose fingerprint this page showed (refused if the server now presents another)."""
        admin = await admin_outside_lock(self)
        async with self:
            if admin is None:
                return await self._admin()  # refuses the tab (and forgets what it showed)
            wanted = _server_id(server_id)
            shown = self._keys.get(str(wanted), {}).get("key_fingerprint", "")
            address = client_address(self)
            if wanted is None or not shown:
                self._failed("Fetch the host key first.")
                return None
        try:
            async with async_session() as session:
                try:
                    row = await ssh_servers.accept_host_key(session, wanted, shown, actor=admin, address=address)
                    name = row.name
                finally:
                    await session.commit()  # the pin, or the refusal's audit event
        except ssh_servers.ServerError as exc:
            async with self:
                self._failed(str(exc))
                self._set_key(str(wanted))
            return None
        except TRANSIENT_DB_ERRORS:
            async with self:
                self._failed(UNAVAILABLE)
            return None
        rows = await _load_rows()
        async with self:
            self.error, self.notice = "", f"Accepted the host key of {name}: {shown}."
            self._keys = {k: v for k, v in self._keys.items() if k != str(wanted)}
            self._show(rows)
        return None
