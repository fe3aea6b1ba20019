"""The SSH servers page's state (admins only): list, add, edit, delete, and host-key pinning.

Every handler checks the admin on the server first (AdminState). Credentials (private key, passphrase,
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
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.db import TRANSIENT_DB_ERRORS, async_session
from remediation_app.models import Role, SSHServer, User
from remediation_app.pages.admin.kit_state import CrudState, checked
from remediation_app.services import ssh_servers
from remediation_app.state import UNAVAILABLE, client_address, form_id

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


def server_input(form_data: dict[str, Any], *, editing: bool) -> ssh_servers.ServerInput:
    """The service's input from the form: a secret left empty is kept (None), "remove" clears it."""
    secrets: dict[str, str | None] = {}
    for field in SECRETS:
        value, remove = str(form_data.get(field, "")), checked(form_data.get(f"remove_{field}"))
        if value and remove:
            raise ssh_servers.ServerError(field, f"type a new {field.replace('_', ' ')} or tick 'remove', not both")
        secrets[field] = "" if remove and editing else (value or None)
    port_text = str(form_data.get("port", "22")).strip() or "22"
    if not (port_text.isascii() and port_text.isdigit() and len(port_text) <= 5):
        raise ssh_servers.ServerError("port", "between 1 and 65535")
    roles = tuple(r.value for r in Role if checked(form_data.get(f"role_{r.value}")))
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


class AdminServersState(CrudState, rx.State):
    form: dict[str, str] = _blank_form()
    # Host keys fetched by server id (the KEY_FIELDS), shown in the rows at each load.
    _keys: dict[str, dict[str, str]] = {}

    async def _list_rows(self, session: AsyncSession) -> list[dict[str, str]]:
        return [_row(ssh_servers.server_public(r)) for r in await ssh_servers.list_servers(session)]

    async def _edit_form(self, session: AsyncSession, row_id: int) -> dict[str, str] | None:
        row = await session.get(SSHServer, row_id)
        if row is None:
            return None
        public = ssh_servers.server_public(row)
        return {
            **{k: str(public[k]) for k in ("name", "host", "port", "username", "auth_method", "environment")},
            **{f"role_{r.value}": "true" if r.value in row.allowed_roles else "" for r in Role},
            **{f"has_{k}": "true" if public[f"has_{k}"] else "" for k in SECRETS},
        }

    def _noun(self) -> str:
        return "server"

    def _refusal(self) -> type[Exception]:
        return ssh_servers.ServerError

    async def _save_row(
        self, session: AsyncSession, form_data: dict[str, Any], row_id: int | None, admin: User, address: str
    ) -> str:
        data = server_input(form_data, editing=row_id is not None)
        row = await ssh_servers.save_server(session, data, server_id=row_id, actor=admin, address=address)
        return row.name

    async def _delete_stored(self, session: AsyncSession, row_id: int, admin: User, address: str) -> None:
        await ssh_servers.delete_server(session, row_id, actor=admin, address=address)

    def _extras(self, row_id: str) -> dict[str, str]:
        return self._keys.get(row_id, dict.fromkeys(KEY_FIELDS, ""))

    def _drop_extras(self, row_id: str) -> None:
        self._keys = {k: v for k, v in self._keys.items() if k != row_id}

    def _set_key(self, server_id: str, **values: str) -> None:
        self._keys = {**self._keys, server_id: {**dict.fromkeys(KEY_FIELDS, ""), **values}}
        self._show_extras()

    @rx.event
    async def save_server(self, form_data: dict[str, Any]):
        await self._save_form(form_data)

    @rx.event
    async def delete_server(self, server_id: str):
        await self._delete_row(server_id)

    @rx.event(background=True)
    async def fetch_host_key(self, server_id: str):
        """Ask the server for its host key (no login), outside the state lock (up to 10 s)."""
        wanted = form_id(server_id) or None
        if wanted is None:
            return
        async with self:
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

    @rx.event(background=True)
    async def accept_host_key(self, server_id: str):
        """Pin the key whose fingerprint this page showed (refused if the server now presents another)."""
        admin = self._actor()
        async with self:
            wanted = form_id(server_id) or None
            shown = self._keys.get(str(wanted), {}).get("key_fingerprint", "")
            address = client_address(self)
            if wanted is None or not shown:
                self._fail("Fetch the host key first.")
                return
        try:
            async with async_session() as session:
                try:
                    row = await ssh_servers.accept_host_key(session, wanted, shown, actor=admin, address=address)
                    name = row.name
                finally:
                    await session.commit()  # the pin, or the refusal's audit event
        except ssh_servers.ServerError as exc:
            async with self:
                self._fail(str(exc))
                self._set_key(str(wanted))
            return
        except TRANSIENT_DB_ERRORS:
            async with self:
                self._fail(UNAVAILABLE)
            return
        rows = await self._fetch_rows()
        async with self:
            self._done(f"Accepted the host key of {name}: {shown}.")
            self._drop_extras(str(wanted))
            self._show(rows)
