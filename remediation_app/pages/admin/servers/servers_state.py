"""The SSH servers page's state (admins only): list, add, edit, delete, and host-key pinning.

Every handler checks the admin on the server first (AdminState). Credentials (private key, passphrase,
password) are write-only: they arrive in the form's payload, go straight to services.terminal.servers
(which encrypts them) and are never kept in a state var; the page only knows whether one is
stored. On edit an empty field keeps the stored secret and a "remove" box removes it.

"Fetch host key" shows the key the server presents now (algorithm and SHA256 fingerprint) and
whether it is the accepted one; "Accept this key" pins exactly the fingerprint shown (the service
fetches again and refuses if the server now presents another key).
"""

from __future__ import annotations

from typing import Any, ClassVar

import reflex as rx
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.db import TRANSIENT_DB_ERRORS, async_session
from remediation_app.models import Role, SSHServer, User
from remediation_app.pages.admin.kit_state import CrudState, checked, form_flags
from remediation_app.services.records import Records
from remediation_app.services.terminal import servers
from remediation_app.state import UNAVAILABLE, client_address, parse_id

SECRETS = ("private_key", "passphrase", "password")
FORM_FIELDS = ("name", "host", "port", "username", "auth_method", "environment")  # shown as stored
KEY_FIELDS = ("key_status", "key_fingerprint", "key_algorithm", "key_match", "key_error")


def _blank_form() -> dict[str, str]:
    return {
        **dict.fromkeys(("name", "host", "username", "environment", "role_user"), ""),
        **{f"has_{k}": "" for k in SECRETS},
        "port": "22",
        "auth_method": "key",
        "role_admin": "true",
    }


def _row(public: dict[str, Any]) -> dict[str, str]:
    return {
        **{k: str(public[k]) for k in ("id", *FORM_FIELDS)},
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
    }


def server_input(form_data: dict[str, Any], *, editing: bool) -> servers.ServerInput:
    """The service's input from the form: a secret left empty is kept (None), "remove" clears it."""
    secrets: dict[str, str | None] = {}
    for field in SECRETS:
        value, remove = str(form_data.get(field, "")), checked(form_data.get(f"remove_{field}"))
        if value and remove:
            raise servers.ServerError(field, f"type a new {field.replace('_', ' ')} or tick 'remove', not both")
        secrets[field] = "" if remove and editing else (value or None)
    port_text = str(form_data.get("port", "22")).strip() or "22"
    port = parse_id(port_text)
    if port is None:
        raise servers.ServerError("port", "between 1 and 65535")
    roles = tuple(r.value for r in Role if checked(form_data.get(f"role_{r.value}")))
    return servers.ServerInput(
        name=str(form_data.get("name", "")),
        host=str(form_data.get("host", "")),
        username=str(form_data.get("username", "")),
        port=port,
        auth_method=str(form_data.get("auth_method", "key")),
        environment=str(form_data.get("environment", "")),
        allowed_roles=roles,
        **secrets,
    )


class AdminServersState(CrudState, rx.State):
    records: ClassVar[Records[SSHServer]] = servers.SERVERS
    extra_fields: ClassVar[tuple[str, ...]] = KEY_FIELDS  # the host key fetched
    form: dict[str, str] = _blank_form()

    async def _list_rows(self, session: AsyncSession) -> list[dict[str, str]]:
        return [_row(servers.server_public(r)) for r in await servers.list_servers(session)]

    def _form_of(self, row: SSHServer) -> dict[str, str]:
        public = servers.server_public(row)
        return {
            **{k: str(public[k]) for k in FORM_FIELDS},
            **{f"role_{r.value}": "true" if r.value in row.allowed_roles else "" for r in Role},
            **form_flags(public, *(f"has_{k}" for k in SECRETS)),
        }

    async def _save_stored(
        self, session: AsyncSession, form_data: dict[str, Any], row_id: int | None, admin: User, address: str
    ) -> str:
        data = server_input(form_data, editing=row_id is not None)
        row = await servers.save_server(session, data, server_id=row_id, actor=admin, address=address)
        return row.name

    @rx.event(background=True)
    async def fetch_host_key(self, server_id: str):
        """Ask the server for its host key (no login), outside the state lock (up to 10 s)."""
        wanted = parse_id(server_id) or None
        if wanted is None:
            return
        async with self:
            self._set_extras(str(wanted), key_status="fetching")
        try:
            async with async_session() as session:
                row = await servers.SERVERS.stored(session, wanted)
            key = await servers.fetch_host_key(row.host, row.port)
        except servers.ServerError as exc:
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
            self._set_extras(str(wanted), **values)

    @rx.event(background=True)
    async def accept_host_key(self, server_id: str):
        """Pin the key whose fingerprint this page showed (refused if the server now presents another)."""
        admin = self._actor()
        async with self:
            wanted = parse_id(server_id) or None
            shown = self._extras(str(wanted))["key_fingerprint"]
            address = client_address(self)
            if wanted is None or not shown:
                self._fail("Fetch the host key first.")
                return
        try:
            async with async_session() as session:
                try:
                    row = await servers.accept_host_key(session, wanted, shown, actor=admin, address=address)
                    name = row.name
                finally:
                    await session.commit()  # the pin, or the refusal's audit event
        except servers.ServerError as exc:
            async with self:
                self._fail(str(exc))
                self._set_extras(str(wanted))
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
