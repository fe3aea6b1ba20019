"""The state of a connections page (datasources, Alertmanagers): list, add, edit, delete, Test
connection, for one `ConnectionKind` of services/connections.py.

Every handler checks the admin on the server first (AdminState). The credential (a bearer token
or a basic-auth password) is write-only: it arrives in the form's payload, goes straight to the
service (which encrypts it) and is never kept in a state var; the page only knows whether one is
stored. On edit an empty field keeps the stored credential (unless the URL's host changed: the
service then asks for it again), "remove credential" removes it. The connection from the
environment is listed read-only and can be tested.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.models import User
from remediation_app.pages.admin.kit_state import ConnectionTestState, checked, form_flags
from remediation_app.services.connections import ConnectionInput, ConnectionKind

COMMON_FIELDS = ("name", "url", "auth", "username", "timeout_s")  # shown as stored


def blank_form(*columns: str) -> dict[str, str]:
    """The add form: no name, no credential, enabled; `columns` (the kind's own fields) empty."""
    return {
        **dict.fromkeys(("name", "url", "username", "is_default", "has_secret", *columns), ""),
        "auth": "none",
        "timeout_s": "5",
        "enabled": "true",
    }


def row_of(public: dict[str, Any], columns: tuple[str, ...] = ()) -> dict[str, str]:
    """A connection's public view as the table shows it."""
    return {
        **{k: str(public[k]) for k in ("id", "name", "url", "auth", "username", "source", *columns)},
        "has_secret": "yes" if public["has_secret"] else "no",
        "is_default": "yes" if public["is_default"] else "",
        "enabled": "yes" if public["enabled"] else "no",
        "timeout_s": f"{public['timeout_s']:g}",
    }


class ConnectionsState(ConnectionTestState, mixin=True):
    """A page of one kind of connection: a subclass names its `kind`, declares `form` with
    `blank_form(*kind.columns)` as its default, and adds its Test connection handler
    (`_test_connection`)."""

    kind: ClassVar[ConnectionKind[Any, Any]]

    def _timeout(self, form_data: dict[str, Any]) -> float:
        raw = str(form_data.get("timeout_s", "")).strip()
        try:
            value = float(raw)
        except ValueError:
            raise self.records.error("timeout_s", "a number of seconds") from None
        if not math.isfinite(value):
            raise self.records.error("timeout_s", "a finite number")
        return value

    def _input(self, form_data: dict[str, Any], *, editing: bool) -> ConnectionInput:
        """The service's input from the form: a credential left empty is kept (None), "remove" clears it."""
        secret = str(form_data.get("secret", ""))
        remove = checked(form_data.get("remove_secret"))
        if secret and remove:
            raise self.records.error("secret", "type a new credential or tick 'remove credential', not both")
        kept: str | None = "" if remove and editing else (secret or None)
        return self.kind.input(
            name=str(form_data.get("name", "")),
            url=str(form_data.get("url", "")),
            auth=str(form_data.get("auth", "none")),
            username=str(form_data.get("username", "")),
            secret=kept,
            timeout_s=self._timeout(form_data),
            is_default=checked(form_data.get("is_default")),
            enabled=checked(form_data.get("enabled")),
            **{column: str(form_data.get(column, "")) for column in self.kind.columns},
        )

    async def _list_rows(self, session: AsyncSession) -> list[dict[str, str]]:
        return [row_of(public, self.kind.columns) for public in await self.kind.all_public(session)]

    def _form_of(self, row: Any) -> dict[str, str]:
        public = self.kind.public(row)
        # The URL as the list shows it: no query string or fragment (the client never sends them).
        shown = row_of(public, self.kind.columns)
        fields = (*COMMON_FIELDS, *self.kind.columns)
        return {**{k: shown[k] for k in fields}, **form_flags(public, "is_default", "enabled", "has_secret")}

    async def _save_stored(
        self, session: AsyncSession, form_data: dict[str, Any], row_id: int | None, admin: User, address: str
    ) -> str:
        data = self._input(form_data, editing=row_id is not None)
        row = await self.kind.save(session, data, row_id=row_id, actor=admin, address=address)
        return str(row.name)
