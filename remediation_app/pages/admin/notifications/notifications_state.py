"""The notifications page's states (admins only): the routes (list, add, edit, delete, Send test) and
the deliveries (a page of them, newest first, filtered by status; Retry).

Every handler checks the admin on the server first (AdminState). A route's Apprise URL is write-only:
it arrives in the form's payload, goes straight to services.notify.routes (which checks it with
Apprise's parser and encrypts it) and is never kept in a state var; the page only knows whether one
is stored and its kind. An empty URL field on edit keeps the stored one. Errors (a refused URL, a
failed test or delivery) come masked from the services.
"""

from __future__ import annotations

import functools
from typing import Any, ClassVar

import reflex as rx
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.components.pager import FilteredPagerState, fetch_page
from remediation_app.db import async_session
from remediation_app.models import NotifyRoute, Role, Rule, User
from remediation_app.pages.admin.kit_state import AdminState, ConnectionTestState, checked, form_flags
from remediation_app.services.auth import Forbidden
from remediation_app.services.notify import deliveries, routes
from remediation_app.services.notify.events import EVENT_KINDS, EVENT_LABELS, TOPIC
from remediation_app.services.records import Records
from remediation_app.state import UNAVAILABLE_RETRYING, follow_events, parse_id, user_from_cookies

LABEL_LINES_MAX = 10_000  # characters of the label patterns box


def _blank_form() -> dict[str, str]:
    return {
        "name": "",
        "has_url": "",
        **{f"event_{kind}": "" for kind in EVENT_KINDS},
        "event_analysis": "true",
        "rule_ids": "",
        "label_patterns": "",
        "throttle_max": "10",
        "throttle_minutes": "10",
        "enabled": "true",
    }


def _row(public: dict[str, Any]) -> dict[str, str]:
    count = int(public["url_count"])
    patterns = "; ".join(f"{k}={v}" for k, v in public["label_patterns"].items())
    wants_alerts = "alert" in public["events"]
    return {
        "id": str(public["id"]),
        "name": str(public["name"]),
        "source": str(public["source"]),
        "target": str(public["target_kind"]) + (f" ({count} URLs)" if count > 1 else ""),
        "has_url": "yes" if public["has_url"] else "no",
        "events": ", ".join(EVENT_LABELS.get(e, e) for e in public["events"]),
        "rules": (", ".join(public["rules"]) or "any rule but ignore") if wants_alerts else "",
        "label_patterns": patterns or "any labels",
        "throttle": f"{public['throttle_max']} per {public['throttle_minutes']} min",
        "enabled": "yes" if public["enabled"] else "no",
    }


def label_patterns(text: str) -> dict[str, str]:
    """The label patterns box: one `label=pattern` a line (blank lines skipped)."""
    if len(text) > LABEL_LINES_MAX:
        raise routes.RouteError("label_patterns", f"at most {LABEL_LINES_MAX} characters")
    found: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        label, sep, pattern = line.partition("=")
        if not sep or not label.strip():
            raise routes.RouteError("label_patterns", f"line {number}: label=pattern, e.g. team=db*")
        found[label.strip()] = pattern.strip()
    return found


def route_input(form_data: dict[str, Any]) -> routes.RouteInput:
    """The service's input from the form (RouteError for a field that is not a whole number)."""
    rule_ids = [
        number
        for key, value in form_data.items()
        if str(key).startswith("rule_") and checked(value) and (number := parse_id(str(key)[5:])) is not None
    ]
    return routes.RouteInput(
        name=str(form_data.get("name", "")),
        url=str(form_data.get("url", "")) or None,
        events=[kind for kind in EVENT_KINDS if checked(form_data.get(f"event_{kind}"))],
        rule_ids=rule_ids,
        label_patterns=label_patterns(str(form_data.get("label_patterns", ""))),
        throttle_max=routes.finite_int(form_data.get("throttle_max", ""), "throttle_max"),
        throttle_minutes=routes.finite_int(form_data.get("throttle_minutes", ""), "throttle_minutes"),
        enabled=checked(form_data.get("enabled")),
    )


def _passed(outcome: dict[str, Any]) -> str:
    sent = int(outcome.get("sent") or 0)
    return f"Test message sent ({sent} target{'s' if sent != 1 else ''})."


class AdminRoutesState(ConnectionTestState, rx.State):
    records: ClassVar[Records[NotifyRoute]] = routes.ROUTES
    form: dict[str, str] = _blank_form()
    # The rules a route may name (id, name): checkboxes on the form.
    rule_options: list[dict[str, str]] = []

    @rx.var
    def rule_boxes(self) -> list[dict[str, str]]:
        """The rules with whether the form's route names each (the form's `rule_ids`)."""
        chosen = set(self.form.get("rule_ids", "").split(","))
        return [{**option, "checked": "true" if option["id"] in chosen else ""} for option in self.rule_options]

    async def _list_rows(self, session: AsyncSession) -> list[dict[str, str]]:
        return [_row(public) for public in await routes.routes_public(session)]

    async def _load(self) -> None:
        await super()._load()
        if self.loaded:
            async with async_session() as session:
                rules = (
                    await session.exec(select(Rule.id, Rule.name).order_by(col(Rule.priority), col(Rule.id)))
                ).all()
            self.rule_options = [{"id": str(i), "name": str(n)} for i, n in rules]

    def _form_of(self, row: NotifyRoute) -> dict[str, str]:
        public = routes.route_public(row)
        flags = {f"event_{kind}": "true" if kind in public["events"] else "" for kind in EVENT_KINDS}
        return {
            "name": row.name,
            **form_flags(public, "has_url", "enabled"),
            **flags,
            "rule_ids": ",".join(str(r) for r in public["rule_ids"]),
            "label_patterns": "\n".join(f"{k}={v}" for k, v in public["label_patterns"].items()),
            "throttle_max": str(row.throttle_max),
            "throttle_minutes": str(row.throttle_minutes),
        }

    async def _save_stored(
        self, session: AsyncSession, form_data: dict[str, Any], row_id: int | None, admin: User, address: str
    ) -> str:
        row = await routes.save_route(session, route_input(form_data), route_id=row_id, actor=admin, address=address)
        return row.name

    @rx.event(background=True)
    async def send_test(self, route_id: str):
        """A test message now (id 0: every NOTIFY_URLS target); the outcome (masked) in the row."""
        await self._test_connection(route_id, routes.send_test, _passed)


def _when(value: object) -> str:
    return str(value or "")[:19].replace("T", " ")


def _delivery_row(public: dict[str, Any]) -> dict[str, str]:
    return {
        "id": str(public["id"]),
        "when": _when(public["created_at"]),
        "route": str(public["route_name"]),
        "target": str(public["target_kind"]),
        "event": str(public["event_label"]),
        "alert_id": str(public["alert_id"] or ""),
        "status": str(public["status"]),
        "attempts": f"{public['attempts']}/{public['max_attempts']}",
        "error": str(public["last_error"]),
        "retryable": "true" if public["status"] in deliveries.RETRYABLE else "",
    }


async def _delivery_rows(
    session: AsyncSession, limit: int, offset: int, *, status: str
) -> tuple[list[dict[str, str]], int]:
    rows, total = await deliveries.list_deliveries(session, status=status, limit=limit, offset=offset)
    return [_delivery_row(deliveries.delivery_public(row)) for row in rows], total


class AdminDeliveriesState(AdminState, FilteredPagerState, rx.State):
    """The deliveries, live: the list follows the workers' announcements (a send, a retry, a failure)."""

    status: str = ""  # the filter: "" (all) or one status

    def _filters(self) -> dict[str, int]:
        return {"status": 16}

    def _nothing(self) -> str:
        return "No notification yet." if not self.status else f"No {self.status} notification."

    def _status(self) -> str:
        return self.status if self.status in deliveries.STATUSES else ""

    async def _load(self) -> None:
        self._show_page(await fetch_page(functools.partial(_delivery_rows, status=self._status()), self.page))

    async def _page_turned(self, moved: bool) -> None:
        await self._load()

    async def _refresh(self) -> None:
        """For the live loop: Forbidden (after forgetting the rows) once the tab is no admin's any more;
        the page is queried outside the state lock and shown unless the filter or page moved meanwhile."""
        async with self:
            status, page, cookies = self._status(), self.page, self.router.headers.cookie
        try:
            await user_from_cookies(cookies, Role.ADMIN)
        except Forbidden:
            async with self:
                self.rows, self.total = [], 0
            raise
        fetched = await fetch_page(functools.partial(_delivery_rows, status=status), page)
        async with self:
            if (self._status(), self.page) == (status, page):
                self._show_page(fetched, unavailable=UNAVAILABLE_RETRYING)

    @rx.event(background=True)
    async def watch(self):
        """Follow the deliveries while the tab is open (the workers announce every change)."""
        await follow_events(self, self._refresh, lambda event: event.get("topic") == TOPIC)

    @rx.event
    async def retry_delivery(self, delivery_id: str):
        """Queue a failed, cancelled or throttled delivery again, then show the page again."""
        wanted = parse_id(delivery_id)

        async def retry(session: AsyncSession, admin: User, address: str) -> str:
            if not wanted:
                raise deliveries.DeliveryRefused("no such delivery", 404)
            await deliveries.retry(session, wanted, actor=admin, address=address)
            return f"Notification #{wanted} queued again."

        if await self._apply(retry, refused=(deliveries.DeliveryRefused,)):
            await deliveries.wake_workers()
        await self._load()
