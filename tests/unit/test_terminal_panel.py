"""The terminal panel on the alert page preselects the server the alert's `instance` names, and
none when no server matches (the user picks): never an unrelated server."""

from __future__ import annotations

import pytest

from remediation_app.db import async_session
from remediation_app.models import Alert, SSHServer
from remediation_app.pages.terminal.panel_state import alert_server
from tests.unit.terminal_page_roles import PANEL, add_server
from tests.unit.test_reflex_handlers_roles import World, _state_cls, call, database_url, world  # noqa: F401


def _server(server_id: int, name: str, host: str) -> SSHServer:
    return SSHServer(id=server_id, name=name, host=host, username="ops")


def test_the_alert_server_is_the_one_its_instance_names_or_none() -> None:
    rows = [_server(1, "web", "10.0.0.5"), _server(2, "db-1", "db1.example.org")]
    assert alert_server(rows, "10.0.0.5:9100") == "1"
    assert alert_server(rows, "DB1.example.org:9100") == "2"
    assert alert_server(rows, "db-1") == "2"  # by name
    # No match, no instance, no server: nothing picked (not the first server).
    assert alert_server(rows, "10.9.9.9:9100") == ""
    assert alert_server(rows, "") == ""
    assert alert_server([], "10.0.0.5:9100") == ""


@pytest.mark.anyio
async def test_an_alert_naming_no_server_preselects_none(world: World) -> None:  # noqa: F811
    shared = await add_server(world, "shared", ("admin", "user"))
    page = world.state(_state_cls(PANEL), "user", path=f"/alerts/{world.alert_id}")
    page.selected = str(shared)  # picked before, e.g. for another alert
    for instance in ("elsewhere.example.org:9100", ""):
        async with async_session() as session:
            alert = await session.get(Alert, world.alert_id)
            assert alert is not None
            alert.instance, alert.labels = instance, {**alert.labels, "instance": instance}
            session.add(alert)
            await session.commit()
        assert await call(page, "for_alert", str(world.alert_id)) is None
        assert page.error == "" and page.for_alert_id == str(world.alert_id)
        assert [s["name"] for s in page.servers] == ["shared"] and page.servers[0]["ready"] == "yes"
        assert page.selected == "", instance
    # The alert naming the server preselects it.
    async with async_session() as session:
        alert = await session.get(Alert, world.alert_id)
        assert alert is not None
        alert.instance = "127.0.0.1:9100"
        session.add(alert)
        await session.commit()
    assert await call(page, "for_alert", str(world.alert_id)) is None
    assert page.selected == str(shared)
