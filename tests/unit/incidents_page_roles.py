"""Role decisions for the incident pages (IncidentsState: /incidents, IncidentPageState:
/incidents/<id>), registered into test_reflex_handlers_roles.DECISIONS (that module imports this one).

Any logged-in user sees incidents; anonymous tabs are sent to log in and shown nothing. The world's
alert came with a groupKey, so it is an incident of its own."""

from __future__ import annotations

import functools
from typing import Any

from sqlmodel import select

from remediation_app.db import async_session
from remediation_app.models import Incident
from tests.unit.test_reflex_handlers_roles import (
    ALERT_NAME,
    DECISIONS,
    ROLES,
    World,
    _setvar,
    _state_cls,
    call,
    decides,
)

LIST, PAGE = "IncidentsState", "IncidentPageState"


def _list_shows(page: Any) -> bool:
    return bool(page.rows or page.total)


def _page_shows(page: Any) -> bool:
    return bool(page.incident or page.alerts or page.timeline or page.title or page.analysis)


DECISIONS[(LIST, "setvar")] = functools.partial(_setvar, cls_name=LIST, protected=_list_shows)
DECISIONS[(PAGE, "setvar")] = functools.partial(_setvar, cls_name=PAGE, protected=_page_shows)


async def _incident_id() -> int:
    async with async_session() as session:
        found = (await session.exec(select(Incident.id))).first()
    assert found is not None
    return found


@decides((LIST, "watch"), (LIST, "reload"))
async def _incidents_load(w: World, name: str) -> None:
    for role in ROLES:
        page = w.state(_state_cls(LIST), role, path="/incidents")
        await call(page, name)
        if role == "anonymous":
            assert not _list_shows(page)
        else:
            assert [row["title"] for row in page.rows] == [ALERT_NAME] and page.total == 1
        assert not page.live


@decides((LIST, "set_filter"), (LIST, "next_page"), (LIST, "previous_page"))
async def _incidents_filters(w: World, name: str) -> None:
    """They only change the tab's filter or page; loading is reload's (checked above)."""
    cls = _state_cls(LIST)
    calls = {"set_filter": [["status", "open"], ["status", "x" * 50], ["page", "3"]]}.get(name, [[]])
    for role in ROLES:
        for args in calls:
            page = w.state(cls, role, path="/incidents")
            page.total, page.page = 120, 1
            result = await call(page, name, *args)
            assert page.rows == []
            if args and args[0] == "page":
                assert result is None and page.page == 1
                continue
            assert result is None or result is cls.event_handlers["reload"], result
            if args:
                assert page.status == args[1][:20] and page.page == 0


@decides((PAGE, "watch"))
async def _incident_page(w: World, _name: str) -> None:
    incident_id = str(await _incident_id())
    for role in ROLES:
        page = w.state(_state_cls(PAGE), role, path=f"/incidents/{incident_id}", query={"incident_id": incident_id})
        await call(page, "watch")
        if role == "anonymous":
            assert not _page_shows(page)
        else:
            assert page.title == ALERT_NAME and page.incident["id"] == incident_id
            assert [a["alertname"] for a in page.alerts] == [ALERT_NAME]
            assert [t["kind"] for t in page.timeline] == ["opened", "notification"]
    # An id that is no incident's: "not found", nothing shown.
    page = w.state(_state_cls(PAGE), "user", path="/incidents/999999", query={"incident_id": "999999"})
    await call(page, "watch")
    assert not page.found and not _page_shows(page)
