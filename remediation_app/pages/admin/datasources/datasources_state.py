"""The datasources page's state (admins only): list, add, edit, delete, and test a connection.

Every handler checks the admin on the server first (AdminState). The credential (a bearer token
or a basic-auth password) is write-only: it arrives in the form's payload, goes straight to
services.investigation.datasources (which encrypts it) and is never kept in a state var; the page
only knows whether one is stored. On edit an empty field keeps the stored credential (unless the
URL's host changed: the service then asks for it again), "remove credential" removes it. The
datasource from the environment (PROMETHEUS_URL) is listed read-only and can be tested.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import reflex as rx
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.models import Datasource, User
from remediation_app.pages.admin.kit_state import ConnectionTestState, checked, form_flags
from remediation_app.services.investigation import datasources
from remediation_app.services.records import Records

FORM_FIELDS = ("name", "url", "auth", "username", "timeout_s")  # shown as stored


def _blank_form() -> dict[str, str]:
    return {
        **dict.fromkeys(("name", "url", "username", "is_default", "has_secret"), ""),
        "auth": "none",
        "timeout_s": "5",
        "enabled": "true",
    }


def _row(public: dict[str, Any]) -> dict[str, str]:
    return {
        **{k: str(public[k]) for k in ("id", "name", "url", "auth", "username", "source")},
        "has_secret": "yes" if public["has_secret"] else "no",
        "is_default": "yes" if public["is_default"] else "",
        "enabled": "yes" if public["enabled"] else "no",
        "timeout_s": f"{public['timeout_s']:g}",
    }


def _timeout(form_data: dict[str, Any]) -> float:
    raw = str(form_data.get("timeout_s", "")).strip()
    try:
        value = float(raw)
    except ValueError:
        raise datasources.DatasourceInputError("timeout_s", "a number of seconds") from None
    if not math.isfinite(value):
        raise datasources.DatasourceInputError("timeout_s", "a finite number")
    return value


def datasource_input(form_data: dict[str, Any], *, editing: bool) -> datasources.DatasourceInput:
    """The service's input from the form: a credential left empty is kept (None), "remove" clears it."""
    secret = str(form_data.get("secret", ""))
    remove = checked(form_data.get("remove_secret"))
    if secret and remove:
        raise datasources.DatasourceInputError("secret", "type a new credential or tick 'remove credential', not both")
    kept: str | None = "" if remove and editing else (secret or None)
    return datasources.DatasourceInput(
        name=str(form_data.get("name", "")),
        url=str(form_data.get("url", "")),
        auth=str(form_data.get("auth", "none")),
        username=str(form_data.get("username", "")),
        secret=kept,
        timeout_s=_timeout(form_data),
        is_default=checked(form_data.get("is_default")),
        enabled=checked(form_data.get("enabled")),
    )


class AdminDatasourcesState(ConnectionTestState, rx.State):
    records: ClassVar[Records[Datasource]] = datasources.DATASOURCES
    form: dict[str, str] = _blank_form()

    async def _list_rows(self, session: AsyncSession) -> list[dict[str, str]]:
        return [_row(d) for d in await datasources.datasources_public(session)]

    def _form_of(self, row: Datasource) -> dict[str, str]:
        public = datasources.datasource_public(row)
        # The URL as the list shows it: no query string or fragment (the client never sends them).
        shown = _row(public)
        return {**{k: shown[k] for k in FORM_FIELDS}, **form_flags(public, "is_default", "enabled", "has_secret")}

    async def _save_stored(
        self, session: AsyncSession, form_data: dict[str, Any], row_id: int | None, admin: User, address: str
    ) -> str:
        data = datasource_input(form_data, editing=row_id is not None)
        row = await datasources.save_datasource(session, data, datasource_id=row_id, actor=admin, address=address)
        return row.name

    @rx.event(background=True)
    async def test_datasource(self, datasource_id: str):
        """Ask for the version (id 0: the environment's datasource)."""
        await self._test_connection(
            datasource_id, datasources.datasource_test, lambda outcome: f"Connected: version {outcome.get('version')}"
        )
