"""What the API answers: Notifications: routes and deliveries."""

from __future__ import annotations

from typing import Literal

from pydantic import (
    BaseModel,
    Field,
)

from remediation_app.api.schemas.base import (
    Timestamp,
)

# ---- notifications --------------------------------------------------------------------------------

NotifyEvent = Literal["alert", "analysis", "proposal", "fix_verified", "fix_failed"]


class NotifyRoutePublic(BaseModel):
    """A notification route; never its Apprise URL (it carries the target's tokens), only its kind."""

    id: int = Field(description='0: the read-only route "environment" (NOTIFY_URLS)')
    name: str
    target_kind: str = Field(description="the URL's Apprise scheme (json, mailto, slack...); NOTIFY_URLS': each one's")
    has_url: bool
    url_count: int = Field(description="URLs behind the route (NOTIFY_URLS may hold several)")
    events: list[NotifyEvent]
    rule_ids: list[int] = Field(description="for new alerts: the rules whose alerts it wants; [] any rule but ignore")
    rules: list[str] = Field(description="those rules' names")
    label_patterns: dict[str, str] = Field(description="label -> pattern (the rules' syntax); all must match")
    throttle_max: int = Field(description="at most this many messages per throttle_minutes; the excess is summarized")
    throttle_minutes: int
    enabled: bool
    source: Literal["database", "environment"] = "database"


class NotifyTestPassed(BaseModel):
    ok: Literal[True]
    sent: int = Field(description="targets the test message reached")


class NotifyTestFailed(BaseModel):
    ok: Literal[False]
    error: str = Field(description="what failed, with every part of the URL masked")


class NotifyDeliveryPublic(BaseModel):
    """One message for one target, as queued and sent (the error masked: never a part of the URL)."""

    id: int
    route_id: int | None = Field(description="null for a NOTIFY_URLS target")
    route_name: str
    target_kind: str
    event: Literal["alert", "analysis", "proposal", "fix_verified", "fix_failed", "summary"]
    event_label: str
    alert_id: int | None
    status: Literal["pending", "sending", "sent", "failed", "throttled", "cancelled"]
    attempts: int
    max_attempts: int
    last_error: str
    summary_id: int | None = Field(description="a throttled delivery: the summary message that counted it")
    created_at: Timestamp
    next_attempt_at: Timestamp | None = Field(description="a pending one: when it is tried (again)")
    finished_at: Timestamp | None
