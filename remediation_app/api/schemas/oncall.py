"""What the API answers: Alertmanager: connections, silences, acks."""

from __future__ import annotations

from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
)

from remediation_app.api.schemas.base import (
    Public,
    Timestamp,
)
from remediation_app.api.schemas.connections import ConnectionPublic

# ---- Alertmanager: connections, silences, acks -----------------------------------------------------


class AlertmanagerPublic(ConnectionPublic):
    id: int = Field(description="0: the Alertmanager set by the environment (ALERTMANAGER_URL)")
    external_url: str = Field(description="the URL it advertises in notifications (externalURL), when not `url`")


class AlertmanagerTestPassed(BaseModel):
    ok: Literal[True]
    version: str = Field(description="Alertmanager's version (GET /api/v2/status)")
    cluster: str = Field(description="its cluster's status: ready, settling or disabled")


class MatcherPublic(BaseModel):
    """A label matcher as Alertmanager writes it: name=value (isEqual, not isRegex), != (not isEqual),
    =~ and !~ (isRegex, RE2 syntax, anchored)."""

    model_config = ConfigDict(populate_by_name=True)

    # No length bound here: silences made outside the engine are shown as Alertmanager holds them
    # (the request's MatcherIn bounds what we send).
    name: str = Field(examples=["alertname"])
    value: str = Field(examples=["DiskWillFillSoon"])
    is_regex: bool = Field(default=False, alias="isRegex")
    is_equal: bool = Field(default=True, alias="isEqual")


class SilenceCovering(Public):
    """An active silence in Alertmanager that covers the alert (ours or made elsewhere)."""

    silence_id: str = Field(description="Alertmanager's id (DELETE /api/silences/{silence_id} expires it)")
    alertmanager: str = Field(description='the connection\'s name ("environment": ALERTMANAGER_URL)')
    kind: Literal["silence", "ack", "external"] = Field(description="external: made outside the engine")
    matchers: list[MatcherPublic]
    comment: str
    created_by: str
    starts_at: Timestamp | None
    ends_at: Timestamp | None
    state: str = Field(description="active, or (for one made here) expired")


class SilencePublic(SilenceCovering):
    """A silence made through the engine (kind silence or ack), or one made elsewhere and expired here
    (kind external)."""

    alert_id: int | None
    expired_at: Timestamp | None
    expired_by: str = Field(description='who expired it, "engine" (an ack\'s alert resolved) or "alertmanager"')
