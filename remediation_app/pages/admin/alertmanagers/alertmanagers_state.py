"""The Alertmanagers page's state (admins only): the connections silences, acks and the sync loop
use; list, add, edit, delete, and Test connection (its version and cluster status, or the exact
error). The work is pages/admin/connections_state.py's, as for datasources; the one from the
environment (ALERTMANAGER_URL) is listed read-only and can be tested.
"""

from __future__ import annotations

from typing import Any, ClassVar

import reflex as rx

from remediation_app.models import AlertmanagerConn
from remediation_app.pages.admin.connections_state import ConnectionsState, blank_form
from remediation_app.services.alertmanager import connections
from remediation_app.services.connections import ConnectionKind
from remediation_app.services.records import Records


def _passed(outcome: dict[str, Any]) -> str:
    return f"Connected: Alertmanager {outcome.get('version')}, cluster {outcome.get('cluster')}"


class AdminAlertmanagersState(ConnectionsState, rx.State):
    records: ClassVar[Records[AlertmanagerConn]] = connections.ALERTMANAGERS
    kind: ClassVar[ConnectionKind[Any, Any]] = connections.KIND
    form: dict[str, str] = blank_form(*connections.KIND.columns)

    @rx.event(background=True)
    async def test_alertmanager(self, alertmanager_id: str):
        """GET /api/v2/status (id 0: the environment's Alertmanager)."""
        await self._test_connection(alertmanager_id, connections.alertmanager_test, _passed)
