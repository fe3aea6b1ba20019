"""The datasources page's state (admins only): list, add, edit, delete, and test a connection
(pages/admin/connections_state.py does the work for every kind of connection). The datasource from
the environment (PROMETHEUS_URL) is listed read-only and can be tested.
"""

from __future__ import annotations

from typing import Any, ClassVar

import reflex as rx

from remediation_app.models import Datasource
from remediation_app.pages.admin.connections_state import ConnectionsState, blank_form
from remediation_app.services.connections import ConnectionKind
from remediation_app.services.investigation import datasources
from remediation_app.services.records import Records


class AdminDatasourcesState(ConnectionsState, rx.State):
    records: ClassVar[Records[Datasource]] = datasources.DATASOURCES
    kind: ClassVar[ConnectionKind[Any, Any]] = datasources.KIND
    form: dict[str, str] = blank_form()

    @rx.event(background=True)
    async def test_datasource(self, datasource_id: str):
        """Ask for the version (id 0: the environment's datasource)."""
        await self._test_connection(
            datasource_id, datasources.datasource_test, lambda outcome: f"Connected: version {outcome.get('version')}"
        )
