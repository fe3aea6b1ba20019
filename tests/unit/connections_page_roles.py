"""Role decisions for the connections pages' handlers (AdminDatasourcesState, AdminAlertmanagersState),
registered into test_reflex_handlers_roles.DECISIONS (that module imports this one).

Admins only: anonymous and users are refused (sent to log in, or to the dashboard), the tab forgets
what it held, and no connection or audit event changes. No state of any role ever holds the
credential.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlmodel import col, func, select

from remediation_app.db import async_session
from remediation_app.models import AlertmanagerConn, AuditEvent, Datasource
from remediation_app.services.alertmanager import connections as alertmanagers
from remediation_app.services.connections import ConnectionKind
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

TOKEN = "roles-connection-token-1234567890"
NEW_TOKEN = "roles-connection-new-token-0987654321"


@dataclass(frozen=True)
class Page:
    state: str
    path: str
    kind: ConnectionKind[Any, Any]
    model: type[Any]
    test: str  # its Test connection handler
    url: str  # a URL of its kind

    @property
    def noun(self) -> str:
        return self.kind.noun


PAGES = (
    Page(
        "AdminDatasourcesState",
        "/admin/datasources",
        datasources.KIND,
        Datasource,
        "test_datasource",
        "http://prom.example:9090",
    ),
    Page(
        "AdminAlertmanagersState",
        "/admin/alertmanagers",
        alertmanagers.KIND,
        AlertmanagerConn,
        "test_alertmanager",
        "http://am.example:9093",
    ),
)


def shows(page: Any) -> bool:
    return bool(page.rows or page.loaded or page.editing_id or page._extras_by_row)


async def add_connection(w: World, p: Page, name: str = "roles-conn", url: str = "") -> int:
    async with async_session() as session:
        data = p.kind.input(name=name, url=url or p.url, auth="bearer", secret=TOKEN)
        row = await p.kind.save(session, data, row_id=None, actor=w.admin)
        await session.commit()
        assert row.id is not None
        return int(row.id)


async def snapshot(p: Page) -> dict[str, Any]:
    async with async_session() as session:
        rows = (await session.exec(select(p.model).order_by(col(p.model.id)))).all()
        events = (await session.exec(select(func.count()).select_from(AuditEvent))).one()
    return {"rows": [r.model_dump() for r in rows], "audit": events}


async def last_event() -> AuditEvent:
    async with async_session() as session:
        event = (await session.exec(select(AuditEvent).order_by(col(AuditEvent.id).desc()))).first()
    assert event is not None
    return event


async def admin_only(
    w: World,
    p: Page,
    name: str,
    args: list[Any],
    admin_sees: Callable[[Any], Awaitable[None]],
    prepare: Callable[[Any], None] = lambda page: None,
) -> None:
    before = await snapshot(p)
    for role in ROLES:
        page = w.state(_state_cls(p.state), role, path=p.path)
        prepare(page)
        result = await call(page, name, *args)
        assert_no_secret_in_state(page, TOKEN, NEW_TOKEN)
        if role == "admin":
            assert redirect_of(result) is None, result
            await admin_sees(page)
        else:
            expect_refused(result, role)
            assert not shows(page), (name, role)
            assert await snapshot(p) == before, (name, role)


async def _load(w: World, name: str, p: Page) -> None:
    target = await add_connection(w, p)

    async def shown(page: Any) -> None:
        if name == "load":
            assert [(r["name"], r["has_secret"], r["auth"]) for r in page.rows] == [("roles-conn", "yes", "bearer")]
        elif name == "start_edit":
            assert page.editing_id == str(target) and page.form["has_secret"] == "true"
            assert page.form["url"] == p.url and "secret" not in page.form
        else:
            assert page.editing_id == "" and page.form["name"] == ""

    def editing(page: Any) -> None:
        page.editing_id = str(target) if name == "cancel_edit" else ""

    await admin_only(w, p, name, [str(target)] if name == "start_edit" else [], shown, editing)


async def _save(w: World, _name: str, p: Page) -> None:
    form = {
        "name": "roles-created",
        "url": p.url.replace(".example", "2.example"),
        "auth": "basic",
        "username": "reader",
        "secret": NEW_TOKEN,
        "timeout_s": "2.5",
        "enabled": "on",
        **dict.fromkeys(p.kind.columns, "https://roles.example/"),
    }

    async def saved(page: Any) -> None:
        assert page.error == "" and page.notice == f"Saved {p.noun} roles-created."
        assert [(r["name"], r["auth"], r["has_secret"]) for r in page.rows] == [("roles-created", "basic", "yes")]
        async with async_session() as session:
            row = (await session.exec(select(p.model))).one()
        config = p.kind.config_of(row)
        assert (config.username, config.password, config.timeout_s) == ("reader", NEW_TOKEN, 2.5)
        assert all(getattr(row, column) == "https://roles.example/" for column in p.kind.columns)
        event = await last_event()
        assert (event.action, event.actor, event.target) == (f"{p.noun}.create", "roles-admin", "roles-created")
        assert NEW_TOKEN not in str(event.details)

    await admin_only(w, p, "save_row", [dict(form)], saved)


async def _delete(w: World, _name: str, p: Page) -> None:
    target = await add_connection(w, p, "doomed")

    async def deleted(page: Any) -> None:
        assert page.notice == f"{p.noun.capitalize()} deleted." and page.rows == []
        assert (await last_event()).action == f"{p.noun}.delete"

    await admin_only(w, p, "delete_row", [str(target)], deleted)


async def _test(w: World, _name: str, p: Page) -> None:
    """A stored connection on a closed port: the admin's tab shows why it failed, at once."""
    with refused_url() as url:
        target = await add_connection(w, p, "closed", url)

        async def tested(page: Any) -> None:
            extras = page._extras_by_row[str(target)]
            assert extras["test_status"] == "failed", extras
            named = "datasource" if p.noun == "datasource" else "Alertmanager"
            assert (
                extras["test_message"]
                == f"{named} 'closed' at {url}: connection refused (is it running, is the port right?)"
            )

        await admin_only(w, p, p.test, [str(target)], tested)


for _page in PAGES:
    DECISIONS[(_page.state, "setvar")] = functools.partial(_setvar, cls_name=_page.state, protected=shows)
    decides(*((_page.state, name) for name in ("load", "start_edit", "cancel_edit")))(functools.partial(_load, p=_page))
    decides((_page.state, "save_row"))(functools.partial(_save, p=_page))
    decides((_page.state, "delete_row"))(functools.partial(_delete, p=_page))
    decides((_page.state, _page.test))(functools.partial(_test, p=_page))
