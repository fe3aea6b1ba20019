"""Role decisions for the notifications page's handlers (AdminRoutesState, AdminDeliveriesState),
registered into test_reflex_handlers_roles.DECISIONS (that module imports this one).

Admins only: anonymous and users are refused (sent to log in, or to the dashboard), the tab forgets
what it held, and no route, delivery or audit event changes. No state of any role ever holds the
route's URL or any part of it.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

from sqlmodel import col, func, select

from remediation_app.db import async_session
from remediation_app.models import AuditEvent, NotifyDelivery, NotifyRoute
from remediation_app.services.notify import events, routes
from remediation_app.services.notify.route_set import Target
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

ROUTES, DELIVERIES = "AdminRoutesState", "AdminDeliveriesState"
PATH = "/admin/notifications"
SECRET = "roles-notify-pass-1234567890"
NEW_SECRET = "roles-notify-new-pass-0987654321"


def routes_shown(page: Any) -> bool:
    return bool(page.rows or page.loaded or page.editing_id or page._extras_by_row or page.rule_options)


def deliveries_shown(page: Any) -> bool:
    return bool(page.rows or page.total)


async def add_route(w: World, name: str = "roles-route", url: str = "") -> int:
    async with async_session() as session:
        data = routes.RouteInput(name=name, url=url or f"json://bot:{SECRET}@hooks.example/x", events=["alert"])
        row = await routes.save_route(session, data, route_id=None, actor=w.admin)
        await session.commit()
        assert row.id is not None
        return int(row.id)


async def add_failed_delivery(w: World) -> int:
    route_id = await add_route(w, "roles-failing")
    target = Target(f"route:{route_id}", route_id, "roles-failing", "json", frozenset(), frozenset(), (), 10, 10)
    async with async_session() as session:
        await events.enqueue(session, [events.delivery_row(target, "alert", "roles:1", alert_id=w.alert_id)])
        row = (await session.exec(select(NotifyDelivery).where(col(NotifyDelivery.route_id) == route_id))).one()
        row.status, row.last_error, row.attempts = "failed", "Connection error (masked)", 6
        session.add(row)
        await session.commit()
        assert row.id is not None
        return int(row.id)


async def snapshot() -> dict[str, Any]:
    async with async_session() as session:
        rows = (await session.exec(select(NotifyRoute).order_by(col(NotifyRoute.id)))).all()
        sent = (await session.exec(select(NotifyDelivery.id, NotifyDelivery.status))).all()
        audited = (await session.exec(select(func.count()).select_from(AuditEvent))).one()
    return {"routes": [r.model_dump() for r in rows], "deliveries": sorted(tuple(d) for d in sent), "audit": audited}


async def last_event() -> AuditEvent:
    async with async_session() as session:
        event = (await session.exec(select(AuditEvent).order_by(col(AuditEvent.id).desc()))).first()
    assert event is not None
    return event


async def admin_only(
    w: World,
    cls: str,
    name: str,
    args: list[Any],
    admin_sees: Callable[[Any], Awaitable[None]],
    prepare: Callable[[Any], None] = lambda page: None,
) -> None:
    before = await snapshot()
    shown = routes_shown if cls == ROUTES else deliveries_shown
    for role in ROLES:
        page = w.state(_state_cls(cls), role, path=PATH)
        prepare(page)
        result = await call(page, name, *args)
        assert_no_secret_in_state(page, SECRET, NEW_SECRET)
        if role == "admin":
            assert redirect_of(result) is None, result
            await admin_sees(page)
        else:
            expect_refused(result, role)
            assert not shown(page), (name, role)
            assert await snapshot() == before, (name, role)


DECISIONS[(ROUTES, "setvar")] = functools.partial(_setvar, cls_name=ROUTES, protected=routes_shown)
DECISIONS[(DELIVERIES, "setvar")] = functools.partial(_setvar, cls_name=DELIVERIES, protected=deliveries_shown)


@decides((ROUTES, "load"), (ROUTES, "start_edit"), (ROUTES, "cancel_edit"))
async def _load(w: World, name: str) -> None:
    target = await add_route(w)

    async def shown(page: Any) -> None:
        if name == "load":
            assert [(r["name"], r["has_url"], r["target"]) for r in page.rows] == [("roles-route", "yes", "json")]
            assert "Catch-all" in {o["name"] for o in page.rule_options}
        elif name == "start_edit":
            assert page.editing_id == str(target) and page.form["has_url"] == "true" and "url" not in page.form
            assert page.form["event_alert"] == "true" and page.form["event_analysis"] == ""
        else:
            assert page.editing_id == "" and page.form["name"] == ""

    def editing(page: Any) -> None:
        page.editing_id = str(target) if name == "cancel_edit" else ""

    await admin_only(w, ROUTES, name, [str(target)] if name == "start_edit" else [], shown, editing)


@decides((ROUTES, "save_row"))
async def _save(w: World, _name: str) -> None:
    form = {
        "name": "roles-created",
        "url": f"json://bot:{NEW_SECRET}@hooks.example/new",
        "event_analysis": "on",
        "event_proposal": "on",
        "rule_3": "on",
        "label_patterns": "team=db*\nseverity=re:critical|page",
        "throttle_max": "5",
        "throttle_minutes": "15",
        "enabled": "on",
    }

    async def saved(page: Any) -> None:
        assert page.error == "" and page.notice == "Saved route roles-created.", page.error
        [row] = page.rows
        assert (row["name"], row["has_url"], row["throttle"]) == ("roles-created", "yes", "5 per 15 min")
        async with async_session() as session:
            stored = (await session.exec(select(NotifyRoute))).one()
        assert stored.events == ["analysis", "proposal"] and stored.rule_ids == [3]
        assert stored.label_patterns == {"severity": "re:critical|page", "team": "db*"}
        event = await last_event()
        assert (event.action, event.actor, event.target) == ("notify_route.create", "roles-admin", "roles-created")
        assert NEW_SECRET not in str(event.details)

    await admin_only(w, ROUTES, "save_row", [dict(form)], saved)


@decides((ROUTES, "delete_row"))
async def _delete(w: World, _name: str) -> None:
    target = await add_route(w, "doomed")

    async def deleted(page: Any) -> None:
        assert page.notice == "Route deleted." and page.rows == []
        assert (await last_event()).action == "notify_route.delete"

    await admin_only(w, ROUTES, "delete_row", [str(target)], deleted)


@decides((ROUTES, "send_test"))
async def _send_test(w: World, _name: str) -> None:
    """A route to a closed port: the admin's tab shows why it failed (masked), at once."""
    with refused_url() as url:
        target = await add_route(w, "closed", url.replace("http://", f"json://bot:{SECRET}@"))

        async def tested(page: Any) -> None:
            extras = page._extras_by_row[str(target)]
            assert extras["test_status"] == "failed" and "Connection error" in extras["test_message"], extras
            assert SECRET not in extras["test_message"] and "bot" not in extras["test_message"]

        await admin_only(w, ROUTES, "send_test", [str(target)], tested)


@decides(
    (DELIVERIES, "load"),
    (DELIVERIES, "watch"),
    (DELIVERIES, "set_filter"),
    (DELIVERIES, "next_page"),
    (DELIVERIES, "previous_page"),
)
async def _deliveries(w: World, name: str) -> None:
    await add_failed_delivery(w)
    args = {"set_filter": ["status", "failed"]}.get(name, [])

    async def shown(page: Any) -> None:
        if name in ("load", "watch", "set_filter"):
            [row] = page.rows
            assert (row["status"], row["error"], row["retryable"]) == ("failed", "Connection error (masked)", "true")
        else:
            assert page.page == 0

    await admin_only(w, DELIVERIES, name, args, shown)


@decides((DELIVERIES, "retry_delivery"))
async def _retry(w: World, _name: str) -> None:
    delivery_id = await add_failed_delivery(w)

    async def retried(page: Any) -> None:
        assert page.notice == f"Notification #{delivery_id} queued again.", page.error
        async with async_session() as session:
            row = await session.get(NotifyDelivery, delivery_id)
        assert row is not None and (row.status, row.attempts) == ("pending", 0)
        assert (await last_event()).action == "notify.retry"

    await admin_only(w, DELIVERIES, "retry_delivery", [str(delivery_id)], retried)
