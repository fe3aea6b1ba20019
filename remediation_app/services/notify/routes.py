"""Notification routes admins keep: the form's fields and their checks (the Apprise URL by Apprise's own
parser), the URL encrypted and write-only (no view carries it, only `has_url` and its kind), the
audited save and delete, the read-only route "environment" (NOTIFY_URLS, id 0), what a claimed
delivery is sent to, and Send test."""

from __future__ import annotations

import asyncio
import math
import re
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.crypto import DecryptionError, decrypt, encrypt, record_name
from remediation_app.db import async_session
from remediation_app.models import NotifyRoute, Rule, User, utcnow
from remediation_app.services.notify import compose, delivery, route_set, targets
from remediation_app.services.notify.events import EVENT_KINDS
from remediation_app.services.notify.queue import ClaimedDelivery
from remediation_app.services.notify.route_set import ENV_NAME, Target
from remediation_app.services.records import ENV_ID, FieldError, Records
from remediation_app.services.rules.engine import RuleValidationError
from remediation_app.services.text import is_storable

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}$")
LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")
MAX_LABELS = 20
MAX_RULES = 100
THROTTLE_MAX = (1, 1000)
THROTTLE_MINUTES = (1, 1440)


class RouteError(FieldError):
    """A route that cannot be saved; names the field (never shows the URL)."""


ROUTES = Records(NotifyRoute, "route", RouteError, action="notify_route")


@dataclass
class RouteInput:
    """A form's fields. url: None keeps the stored one (a new route needs one), text replaces it."""

    name: str
    url: str | None = None
    events: list[str] = field(default_factory=lambda: ["analysis"])
    rule_ids: list[int] = field(default_factory=list)
    label_patterns: dict[str, str] = field(default_factory=dict)
    throttle_max: int = 10
    throttle_minutes: int = 10
    enabled: bool = True


def _check(data: RouteInput) -> None:
    if not NAME_RE.match(data.name):
        raise RouteError("name", "1-100 letters, digits, spaces, '.', '_' or '-', starting with a letter or digit")
    if data.name.strip().lower() == ENV_NAME:
        raise RouteError("name", f"{ENV_NAME!r} is the route from NOTIFY_URLS")
    unknown = [e for e in data.events if e not in EVENT_KINDS]
    if unknown or not data.events:
        raise RouteError("events", "one or more of " + ", ".join(EVENT_KINDS))
    if len(data.rule_ids) > MAX_RULES:
        raise RouteError("rule_ids", f"at most {MAX_RULES} rules")
    if len(data.label_patterns) > MAX_LABELS:
        raise RouteError("label_patterns", f"at most {MAX_LABELS} label patterns")
    for label, pattern in data.label_patterns.items():
        if not LABEL_NAME.match(label):
            raise RouteError(f"label_patterns.{label[:100]}", "not a valid Prometheus label name")
        if not isinstance(pattern, str) or not is_storable(pattern):
            raise RouteError(f"label_patterns.{label}", "must be text without NUL characters")
    try:
        route_set.compile_matchers(data.label_patterns)
    except RuleValidationError as exc:
        raise RouteError(exc.field, exc.message) from None
    for name, value, (low, high) in (
        ("throttle_max", data.throttle_max, THROTTLE_MAX),
        ("throttle_minutes", data.throttle_minutes, THROTTLE_MINUTES),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise RouteError(name, f"a whole number from {low} to {high}")


async def _check_rules(session: AsyncSession, rule_ids: list[int]) -> list[int]:
    wanted = sorted(set(rule_ids))
    if not wanted:
        return []
    found = set((await session.exec(select(Rule.id).where(col(Rule.id).in_(wanted)))).all())
    missing = [r for r in wanted if r not in found]
    if missing:
        raise RouteError("rule_ids", f"no rule has id {missing[0]} (deleted meanwhile?)")
    return wanted


async def check_url(url: str) -> targets.Target:
    """Apprise's parser's verdict on a URL (off the event loop: the first check loads its plugins)."""
    try:
        return await asyncio.to_thread(targets.check, url)
    except targets.TargetError as exc:
        raise RouteError("url", str(exc)) from None


async def save_route(
    session: AsyncSession, data: RouteInput, *, route_id: int | None, actor: User, address: str = ""
) -> NotifyRoute:
    """Create (route_id None) or update a route, audited (never the URL). The caller commits."""
    data.name = data.name.strip()
    data.events = list(dict.fromkeys(data.events))
    _check(data)
    rule_ids = await _check_rules(session, data.rule_ids)
    if route_id is None:
        row = NotifyRoute(name=data.name, created_at=utcnow())
        if data.url is None:
            raise RouteError("url", "a new route needs its Apprise URL")
    else:
        row = await ROUTES.stored(session, route_id)
    await ROUTES.check_name(session, data.name, route_id)
    url_change = "kept"
    if data.url is not None:
        checked = await check_url(data.url)
        row.url_ciphertext, row.target_kind = encrypt(data.url.strip()), checked.kind
        url_change = "set"
    row.name, row.events, row.rule_ids = data.name, data.events, rule_ids
    row.label_patterns = dict(sorted(data.label_patterns.items()))
    row.throttle_max, row.throttle_minutes, row.enabled = data.throttle_max, data.throttle_minutes, data.enabled
    row.updated_at, row.updated_by = utcnow(), actor.username
    session.add(row)
    await session.flush()
    details = {k: v for k, v in route_public(row).items() if k not in ("has_url", "source", "rules")}
    details["url_change"] = url_change
    ROUTES.audit_saved(session, row, created=route_id is None, actor=actor, address=address, details=details)
    route_set.forget(session)
    return row


async def delete_route(session: AsyncSession, route_id: int, *, actor: User, address: str = "") -> None:
    """Delete a route and its deliveries (queued ones are not sent)."""
    await ROUTES.delete(session, route_id, actor=actor, address=address)
    route_set.forget(session)


def route_public(row: NotifyRoute, rule_names: dict[int, str] | None = None) -> dict[str, Any]:
    """The browser's view: never the URL, only whether one is stored and its kind."""
    names = rule_names or {}
    return {
        "id": row.id,
        "name": row.name,
        "target_kind": row.target_kind,
        "has_url": bool(row.url_ciphertext),
        "url_count": 1 if row.url_ciphertext else 0,
        "events": list(row.events or []),
        "rule_ids": list(row.rule_ids or []),
        "rules": [names.get(int(r), f"#{r} (deleted)") for r in row.rule_ids or []],
        "label_patterns": dict(row.label_patterns or {}),
        "throttle_max": row.throttle_max,
        "throttle_minutes": row.throttle_minutes,
        "enabled": row.enabled,
        "source": "database",
    }


def env_public() -> dict[str, Any] | None:
    env = route_set.env_targets()
    if not env:
        return None
    return {
        "id": ENV_ID,
        "name": ENV_NAME,
        "target_kind": ", ".join(dict.fromkeys(t.kind for t in env)),
        "has_url": True,
        "url_count": len(env),
        "events": list(route_set.ENV_EVENTS),
        "rule_ids": [],
        "rules": [],
        "label_patterns": {},
        "throttle_max": route_set.ENV_THROTTLE[0],
        "throttle_minutes": route_set.ENV_THROTTLE[1],
        "enabled": True,
        "source": "environment",
    }


async def routes_public(session: AsyncSession) -> list[dict[str, Any]]:
    """The environment's route (when NOTIFY_URLS is set) first, then the stored ones by name."""
    rules = {int(i): n for i, n in (await session.exec(select(Rule.id, Rule.name))).all() if i is not None}
    stored = [route_public(row, rules) for row in await ROUTES.all(session)]
    env = env_public()
    return ([env] if env is not None else []) + stored


def _url_of(row: NotifyRoute) -> str:
    return decrypt(row.url_ciphertext, record=record_name(NotifyRoute.__tablename__, row.id, "notification route URL"))


def _target_of(row: NotifyRoute) -> Target:
    assert row.id is not None
    return Target(
        key=route_set.route_key(row.id),
        route_id=row.id,
        name=row.name,
        kind=row.target_kind,
        events=frozenset(row.events or ()),
        rule_ids=frozenset(),
        matchers=(),
        throttle_max=row.throttle_max,
        throttle_minutes=row.throttle_minutes,
    )


class Unsendable(NamedTuple):
    """Why a claimed delivery cannot go: cancelled (nothing to send it to any more) or failed."""

    reason: str
    cancel: bool


async def resolve(session: AsyncSession, claimed: ClaimedDelivery) -> tuple[str, Target] | Unsendable:
    """Where a claimed delivery goes (its URL, decrypted, and its throttle), or why it cannot go."""
    if claimed.route_id is None:
        for url, target in zip(route_set.env_urls(), route_set.env_targets(), strict=False):
            if target.key == claimed.target_key:
                return url, target
        return Unsendable("its URL is no longer in NOTIFY_URLS", cancel=True)
    row = await session.get(NotifyRoute, claimed.route_id)
    if row is None:
        return Unsendable("its route was deleted", cancel=True)
    if not row.enabled:
        return Unsendable("its route is disabled", cancel=True)
    try:
        return _url_of(row), _target_of(row)
    except DecryptionError as exc:
        return Unsendable(f"{exc}; an admin must enter the route's URL again", cancel=False)


async def send_test(route_id: int) -> dict[str, Any]:
    """Send a test message now (not queued): {"ok": true} or {"ok": false, "error": masked}. Id 0 sends
    to every NOTIFY_URLS target. The database session is closed before the send."""
    async with async_session() as session:
        if route_id == ENV_ID:
            urls = list(dict.fromkeys(route_set.env_urls()))
            if not urls:
                return {"ok": False, "error": "NOTIFY_URLS is not set"}
            name = ENV_NAME
        else:
            row = await session.get(NotifyRoute, route_id)
            if row is None:
                return {"ok": False, "error": "no such route"}
            try:
                urls, name = [_url_of(row)], row.name
            except DecryptionError as exc:
                return {"ok": False, "error": str(exc)}
    message = compose.test_message(name)
    outcomes = await asyncio.gather(*(delivery.send(url, message) for url in urls))
    errors = [o.error for o in outcomes if not o.ok]
    if errors:
        prefix = [f"{len(errors)} of {len(urls)} failed: "] if len(urls) > 1 else []
        return {"ok": False, "error": "".join(prefix) + "; ".join(errors)}
    return {"ok": True, "sent": len(urls)}


def finite_int(value: Any, field_name: str) -> int:
    """A form's number as an int (RouteError naming the field otherwise)."""
    try:
        number = float(str(value).strip())
    except ValueError:
        raise RouteError(field_name, "a whole number") from None
    if not math.isfinite(number) or number != int(number):
        raise RouteError(field_name, "a whole number")
    return int(number)
