"""Role decisions for the datasources page's handlers (AdminDatasourcesState), registered into
test_reflex_handlers_roles.DECISIONS (that module imports this one).

Admins only: anonymous and users are refused (sent to log in, or to the dashboard), the tab forgets
what it held, and no datasource or audit event changes. No state of any role ever holds the
credential.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

from sqlmodel import col, func, select

from remediation_app.db import async_session
from remediation_app.models import AuditEvent, Datasource
from remediation_app.services.investigation import datasources
from tests.support.prom_faults import refused_url
from tests.unit.test_reflex_handlers_roles import (
    DECISIONS,
    ROLES,
    World,
    _setvar,
    _state_cls,
    assert_no_secret_in_state,
    call,
    decides,
    expect_refused,
    redirect_of,
)

STATE = "AdminDatasourcesState"
TOKEN = "roles-datasource-token-1234567890"
NEW_TOKEN = "roles-datasource-new-token-0987654321"


def shows(page: Any) -> bool:
    return bool(page.rows or page.loaded or page.editing_id or page._extras_by_row)


DECISIONS[(STATE, "setvar")] = functools.partial(_setvar, cls_name=STATE, protected=shows)


async def add_datasource(w: World, name: str = "roles-prom", url: str = "http://prom.example:9090") -> int:
    async with async_session() as session:
        row = await datasources.save_datasource(
            session,
            datasources.DatasourceInput(name=name, url=url, auth="bearer", secret=TOKEN),
            datasource_id=None,
            actor=w.admin,
        )
        await session.commit()
        assert row.id is not None
        return row.id


async def snapshot() -> dict[str, Any]:
    async with async_session() as session:
        rows = (await session.exec(select(Datasource).order_by(col(Datasource.id)))).all()
        events = (await session.exec(select(func.count()).select_from(AuditEvent))).one()
    return {"datasources": [r.model_dump() for r in rows], "audit": events}


async def last_event() -> AuditEvent:
    async with async_session() as session:
        event = (await session.exec(select(AuditEvent).order_by(col(AuditEvent.id).desc()))).first()
    assert event is not None
    return event


async def admin_only(
    w: World,
    name: str,
    args: list[Any],
    admin_sees: Callable[[Any], Awaitable[None]],
    prepare: Callable[[Any], None] = lambda page: None,
) -> None:
    before = await snapshot()
    for role in ROLES:
        page = w.state(_state_cls(STATE), role, path="/admin/datasources")
        prepare(page)
        result = await call(page, name, *args)
        assert_no_secret_in_state(page, TOKEN, NEW_TOKEN)
        if role == "admin":
            assert redirect_of(result) is None, result
            await admin_sees(page)
        else:
            expect_refused(result, role)
            assert not shows(page), (name, role)
            assert await snapshot() == before, (name, role)


@decides((STATE, "load"), (STATE, "start_edit"), (STATE, "cancel_edit"))
async def _datasources_load(w: World, name: str) -> None:
    target = await add_datasource(w)

    async def shown(page: Any) -> None:
        if name == "load":
            assert [(r["name"], r["has_secret"], r["auth"]) for r in page.rows] == [("roles-prom", "yes", "bearer")]
        elif name == "start_edit":
            assert page.editing_id == str(target) and page.form["has_secret"] == "true"
            assert page.form["url"] == "http://prom.example:9090" and "secret" not in page.form
        else:
            assert page.editing_id == "" and page.form["name"] == ""

    def editing(page: Any) -> None:
        page.editing_id = str(target) if name == "cancel_edit" else ""

    await admin_only(w, name, [str(target)] if name == "start_edit" else [], shown, editing)


@decides((STATE, "save_row"))
async def _datasources_save(w: World, _name: str) -> None:
    form = {
        "name": "roles-created",
        "url": "https://mimir.example/prometheus",
        "auth": "basic",
        "username": "reader",
        "secret": NEW_TOKEN,
        "timeout_s": "2.5",
        "enabled": "on",
    }

    async def saved(page: Any) -> None:
        assert page.error == "" and page.notice == "Saved datasource roles-created."
        assert [(r["name"], r["auth"], r["has_secret"]) for r in page.rows] == [("roles-created", "basic", "yes")]
        async with async_session() as session:
            row = (await session.exec(select(Datasource))).one()
        config = datasources.config_of(row)
        assert (config.username, config.password, config.timeout_s) == ("reader", NEW_TOKEN, 2.5)
        event = await last_event()
        assert (event.action, event.actor, event.target) == ("datasource.create", "roles-admin", "roles-created")
        assert NEW_TOKEN not in str(event.details)

    await admin_only(w, "save_row", [dict(form)], saved)


@decides((STATE, "delete_row"))
async def _datasources_delete(w: World, _name: str) -> None:
    target = await add_datasource(w, "doomed")

    async def deleted(page: Any) -> None:
        assert page.notice == "Datasource deleted." and page.rows == []
        assert (await last_event()).action == "datasource.delete"

    await admin_only(w, "delete_row", [str(target)], deleted)


@decides((STATE, "test_datasource"))
async def _datasources_test(w: World, _name: str) -> None:
    """A stored datasource on a closed port: the admin's tab shows why it failed, at once."""
    with refused_url() as url:
        target = await add_datasource(w, "closed", url)

        async def tested(page: Any) -> None:
            extras = page._extras_by_row[str(target)]
            assert extras["test_status"] == "failed", extras
            assert (
                extras["test_message"]
                == f"datasource 'closed' at {url}: connection refused (is it running, is the port right?)"
            )

        await admin_only(w, "test_datasource", [str(target)], tested)
