"""The routes as the event hooks read them: compiled once (label patterns on RE2, like the rules) and
cached per database, re-read only when the stored routes changed (any process may change them: a
count and the latest change time are checked at most once a second); the NOTIFY_URLS targets beside
them. No Apprise import here: the webhook's path passes through."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.models import NotifyRoute, RuleAction
from remediation_app.services.notify.targets import digest, kind_of, split_urls
from remediation_app.services.rules.engine import Matcher, RuleValidationError, compile_pattern
from remediation_app.settings import get_settings

log = logging.getLogger(__name__)
VERSION_CHECK_S = 1.0
ENV_NAME = "environment"
# The NOTIFY_URLS route: every finished analysis, at most this many messages per period and target.
ENV_EVENTS = ("analysis",)
ENV_THROTTLE = (20, 10)  # messages, minutes


@dataclass(frozen=True)
class Target:
    """One place a message goes: a stored route, or one of NOTIFY_URLS (route_id None)."""

    key: str  # "route:<id>" or "env:<digest>"
    route_id: int | None
    name: str
    kind: str
    events: frozenset[str]
    rule_ids: frozenset[int]
    matchers: tuple[Matcher, ...]
    throttle_max: int
    throttle_minutes: int

    def matches(self, labels: Mapping[str, Any]) -> bool:
        return all(m.compiled is None or m.compiled.matches(str(labels.get(m.label, ""))) for m in self.matchers)

    def wants_alert(self, rule_id: int | None, action: str, labels: Mapping[str, Any]) -> bool:
        """A new alert: decided by one of its rules (any rule but an ignore rule, when it names none)."""
        if "alert" not in self.events:
            return False
        if self.rule_ids:
            if rule_id not in self.rule_ids:
                return False
        elif rule_id is None or action == RuleAction.IGNORE.value:
            return False
        return self.matches(labels)

    def wants(self, event: str, labels: Mapping[str, Any]) -> bool:
        return event in self.events and self.matches(labels)


def compile_matchers(patterns: Mapping[str, Any]) -> tuple[Matcher, ...]:
    """The route's label patterns as the rules compile theirs (RuleValidationError names the label)."""
    return tuple(
        Matcher(label, str(pattern), compile_pattern(str(pattern), field_name=f"label_patterns.{label}"))
        for label, pattern in sorted(patterns.items())
    )


def route_key(route_id: int) -> str:
    return f"route:{route_id}"


def _compiled(row: NotifyRoute) -> Target | None:
    assert row.id is not None
    try:
        matchers = compile_matchers(row.label_patterns or {})
    except RuleValidationError as exc:  # stored before a check refused it: skipped, never fatal
        log.warning("notification route %r is skipped: %s", row.name, exc)
        return None
    return Target(
        key=route_key(row.id),
        route_id=row.id,
        name=row.name,
        kind=row.target_kind,
        events=frozenset(row.events or ()),
        rule_ids=frozenset(int(r) for r in row.rule_ids or ()),
        matchers=matchers,
        throttle_max=row.throttle_max,
        throttle_minutes=row.throttle_minutes,
    )


def env_urls() -> list[str]:
    value = get_settings().notify_urls
    return split_urls(value.get_secret_value()) if value is not None else []


def env_targets() -> list[Target]:
    return [
        Target(
            key=f"env:{digest(url)}",
            route_id=None,
            name=ENV_NAME,
            kind=kind_of(url),
            events=frozenset(ENV_EVENTS),
            rule_ids=frozenset(),
            matchers=(),
            throttle_max=ENV_THROTTLE[0],
            throttle_minutes=ENV_THROTTLE[1],
        )
        for url in dict.fromkeys(env_urls())
    ]


@dataclass(frozen=True)
class RouteSet:
    targets: tuple[Target, ...]

    @property
    def alert_targets(self) -> tuple[Target, ...]:
        return tuple(t for t in self.targets if "alert" in t.events)

    def wanting(self, event: str) -> tuple[Target, ...]:
        return tuple(t for t in self.targets if event in t.events)


# Per database: (version, the stored routes compiled, when the version was last read).
_cache: dict[str, tuple[tuple[int, Any], tuple[Target, ...], float]] = {}


def forget(session: AsyncSession) -> None:
    """This process re-reads the routes on their next use (after a change it made)."""
    _cache.pop(str(session.get_bind().engine.url), None)


async def current(session: AsyncSession) -> RouteSet:
    """The enabled stored routes (compiled, cached) and the NOTIFY_URLS targets."""
    key = str(session.get_bind().engine.url)
    cached = _cache.get(key)
    now = time.monotonic()
    if cached is None or now - cached[2] >= VERSION_CHECK_S:
        count, latest = (
            await session.exec(select(func.count(), func.max(NotifyRoute.updated_at)).select_from(NotifyRoute))
        ).one()
        version = (int(count), latest)
        if cached is None or cached[0] != version:
            rows = (await session.exec(select(NotifyRoute).where(col(NotifyRoute.enabled)))).all()
            compiled = tuple(t for t in (_compiled(row) for row in rows) if t is not None)
            cached = (version, compiled, now)
        _cache[key] = (cached[0], cached[1], now)
    return RouteSet(targets=(*cached[1], *env_targets()))
