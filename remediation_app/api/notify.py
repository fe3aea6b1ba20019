"""Notifications (admins only): the routes (/api/notify/routes: list, add, change, delete, Send test)
and the deliveries (/api/notify/deliveries: newest first, failed ones with their error; Retry). A
route's Apprise URL is write-only: no answer carries it, only `has_url` and its kind; errors mask it."""

# Without `from __future__ import annotations`: FastAPI reads the routes' annotations, and the body's
# type is only known when the routes are added.

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import Field, StringConstraints
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.api.admin_lists import AdminList, NamedBody, add_admin_routes
from remediation_app.api.deps import MAX_ID, AdminUser, SessionDep, client_address
from remediation_app.api.errors import error, refusals
from remediation_app.api.schemas import (
    Items,
    NotifyDeliveryPublic,
    NotifyEvent,
    NotifyRoutePublic,
    NotifyTestFailed,
    NotifyTestPassed,
    Page,
)
from remediation_app.models import User
from remediation_app.services.notify import deliveries, routes
from remediation_app.services.notify.targets import URL_MAX

router = APIRouter(tags=["notifications"])
LabelName = Annotated[str, StringConstraints(max_length=100)]
Pattern = Annotated[str, StringConstraints(max_length=1024)]


class NotifyRouteBody(NamedBody):
    """url (an Apprise URL: slack://..., mailto://..., json://...): omit or null keeps the stored one (a
    new route needs one); a value replaces it, once Apprise's parser accepts it."""

    url: str | None = Field(default=None, max_length=URL_MAX, examples=["json://hooks.example/alerts"])
    events: list[NotifyEvent] = Field(default=["analysis"], min_length=1, max_length=5)
    rule_ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] = Field(
        default=[], max_length=routes.MAX_RULES, description='for "alert": these rules\' new alerts; [] any rule'
    )
    label_patterns: dict[LabelName, Pattern] = Field(
        default={}, description="label -> pattern, the rules' syntax (wildcards, or re: RE2); all must match"
    )
    throttle_max: int = Field(default=10, ge=1, le=1000, description="messages per throttle_minutes at most")
    throttle_minutes: int = Field(default=10, ge=1, le=1440)
    enabled: bool = True


async def _save(session: AsyncSession, body: NotifyRouteBody, route_id: int | None, actor: User, address: str) -> Any:
    data = routes.RouteInput(**body.model_dump())
    row = await routes.save_route(session, data, route_id=route_id, actor=actor, address=address)
    return routes.route_public(row)


@router.get(
    "/api/notify/routes",
    response_model=Items[NotifyRoutePublic],
    summary='Notification routes, the read-only "environment" (NOTIFY_URLS, id 0) first; never their URLs (admins)',
)
async def api_notify_routes(_admin: AdminUser, session: SessionDep) -> Any:
    return Items[NotifyRoutePublic](
        items=[NotifyRoutePublic.model_validate(r) for r in await routes.routes_public(session)]
    )


add_admin_routes(
    router,
    AdminList(
        path="/api/notify/routes",
        records=routes.ROUTES,
        noun="a notification route",
        body=NotifyRouteBody,
        public=NotifyRoutePublic,
        save=_save,
    ),
)


@router.post(
    "/api/notify/routes/{route_id}/test",
    response_model=NotifyTestPassed | NotifyTestFailed,
    summary="Send test: a test message now, not queued (id 0: every NOTIFY_URLS target); the error masked (admins)",
)
async def api_test_notify_route(route_id: Annotated[int, Path(ge=0, le=MAX_ID)], _admin: AdminUser) -> Any:
    return await routes.send_test(route_id)


@router.get(
    "/api/notify/deliveries",
    response_model=Page[NotifyDeliveryPublic],
    summary="Notification deliveries, newest first (status=failed: the failed ones and why) (admins)",
)
async def api_notify_deliveries(
    _admin: AdminUser,
    session: SessionDep,
    status: Literal["pending", "sending", "sent", "failed", "throttled", "cancelled"] | None = None,
    limit: Annotated[int, Query(ge=1, le=deliveries.MAX_PAGE)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Any:
    rows, total = await deliveries.list_deliveries(session, status=status or "", limit=limit, offset=offset)
    return Page[NotifyDeliveryPublic](
        items=[NotifyDeliveryPublic.model_validate(deliveries.delivery_public(r)) for r in rows], total=total
    )


@router.post(
    "/api/notify/deliveries/{delivery_id}/retry",
    response_model=NotifyDeliveryPublic,
    responses=refusals({404: "No such delivery", 409: "Not failed, cancelled or throttled"}),
    summary="Retry a failed, cancelled or throttled delivery now, with all its attempts (admins)",
)
async def api_retry_notify_delivery(
    delivery_id: Annotated[int, Path(ge=1, le=MAX_ID)], admin: AdminUser, request: Request, session: SessionDep
) -> Any:
    try:
        row = await deliveries.retry(session, delivery_id, actor=admin, address=client_address(request))
    except deliveries.DeliveryRefused as exc:
        return error(exc.status, str(exc))
    await session.commit()
    await deliveries.wake_workers()
    return NotifyDeliveryPublic.model_validate(deliveries.delivery_public(row))
