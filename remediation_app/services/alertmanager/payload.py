"""The Alertmanager webhook payload (version 4), parsed leniently: unknown fields are ignored."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from remediation_app.services.text import storable_text

# Alertmanager sends Go's zero time for "not ended yet".
_GO_ZERO_YEAR = 1


# Text of the payload, made storable (PostgreSQL refuses NUL and lone UTF-16 surrogates).
CleanStr = Annotated[str, AfterValidator(storable_text)]
LabelSet = dict[CleanStr, CleanStr]


# The INTEGER columns that store counts.
_INT32_MAX = 2**31 - 1


def _utc(value: datetime) -> datetime:
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError as exc:  # e.g. 0001-01-01T00:00:00+01:00 is in year 0 in UTC
        raise ValueError("timestamp is outside the representable range in UTC") from exc


# The fingerprint column's width; a longer one from some sender is stored as its hash.
FINGERPRINT_MAX = 128


class AlertIn(BaseModel):
    # Numbers where Alertmanager sends strings (label values from other senders) are kept as text.
    model_config = ConfigDict(extra="ignore", populate_by_name=True, coerce_numbers_to_str=True)

    status: Literal["firing", "resolved"]
    labels: LabelSet
    annotations: LabelSet = Field(default_factory=dict)
    starts_at: datetime = Field(alias="startsAt")
    ends_at: datetime | None = Field(default=None, alias="endsAt")
    generator_url: CleanStr = Field(default="", alias="generatorURL")
    fingerprint: CleanStr | None = None

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

    @field_validator("annotations", mode="before")
    @classmethod
    def _null_is_no_annotations(cls, v: object) -> object:
        return {} if v is None else v

    def key_fingerprint(self) -> str:
        """Alertmanager's fingerprint, or a stable hash of the label set when a sender omits it."""
        if self.fingerprint:
            if len(self.fingerprint) <= FINGERPRINT_MAX:
                return self.fingerprint
            return "sha256:" + hashlib.sha256(self.fingerprint.encode()).hexdigest()
        digest = hashlib.sha256()
        for name in sorted(self.labels):
            digest.update(name.encode() + b"\xff" + self.labels[name].encode() + b"\xff")
        return digest.hexdigest()[:16]


class NotificationIn(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, coerce_numbers_to_str=True)

    version: CleanStr = "4"
    group_key: CleanStr = Field(default="", alias="groupKey")
    truncated_alerts: int = Field(default=0, ge=0, le=_INT32_MAX, alias="truncatedAlerts")
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
        "truncated_alerts",
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
            if name == "truncated_alerts":
                return 0
            return {} if name.endswith(("labels", "annotations")) else ""
        return v
