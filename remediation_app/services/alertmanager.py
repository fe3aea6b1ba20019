"""The Alertmanager webhook payload (version 4), parsed leniently: unknown fields are ignored."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

# Alertmanager sends Go's zero time for "not ended yet".
_GO_ZERO_YEAR = 1


def clean_text(value: str) -> str:
    """Make text storable everywhere: PostgreSQL refuses NUL and lone UTF-16 surrogates."""
    if "\x00" in value:
        value = value.replace("\x00", "\ufffd")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return value


CleanStr = Annotated[str, AfterValidator(clean_text)]
LabelSet = dict[CleanStr, CleanStr]


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class AlertIn(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    status: Literal["firing", "resolved"]
    labels: LabelSet
    annotations: LabelSet = Field(default_factory=dict)
    starts_at: datetime = Field(alias="startsAt")
    ends_at: datetime | None = Field(default=None, alias="endsAt")
    generator_url: CleanStr = Field(default="", alias="generatorURL")
    fingerprint: CleanStr | None = Field(default=None, max_length=128)

    @field_validator("starts_at")
    @classmethod
    def _starts_utc(cls, v: datetime) -> datetime:
        return _utc(v)

    @field_validator("ends_at")
    @classmethod
    def _ends_utc(cls, v: datetime | None) -> datetime | None:
        if v is None or v.year == _GO_ZERO_YEAR:
            return None
        return _utc(v)

    @field_validator("generator_url", "fingerprint", mode="before")
    @classmethod
    def _null_is_empty(cls, v: object) -> object:
        return "" if v is None else v

    def key_fingerprint(self) -> str:
        """Alertmanager's fingerprint, or a stable hash of the label set when a sender omits it."""
        if self.fingerprint:
            return self.fingerprint
        digest = hashlib.sha256()
        for name in sorted(self.labels):
            digest.update(name.encode() + b"\xff" + self.labels[name].encode() + b"\xff")
        return digest.hexdigest()[:16]


class NotificationIn(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    version: CleanStr = "4"
    group_key: CleanStr = Field(default="", alias="groupKey")
    truncated_alerts: int = Field(default=0, ge=0, alias="truncatedAlerts")
    status: CleanStr = ""
    receiver: CleanStr = ""
    group_labels: LabelSet = Field(default_factory=dict, alias="groupLabels")
    common_labels: LabelSet = Field(default_factory=dict, alias="commonLabels")
    common_annotations: LabelSet = Field(default_factory=dict, alias="commonAnnotations")
    external_url: CleanStr = Field(default="", alias="externalURL")
    alerts: list[AlertIn]

    @field_validator(
        "version",
        "group_key",
        "status",
        "receiver",
        "external_url",
        "group_labels",
        "common_labels",
        "common_annotations",
        mode="before",
    )
    @classmethod
    def _null_is_default(cls, v: object, info: object) -> object:
        if v is None:
            name = getattr(info, "field_name", "")
            return {} if name.endswith(("labels", "annotations")) else ""
        return v
