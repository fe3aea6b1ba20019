"""What every answer module uses, and the small answers (health, audit, webhook, auth).

Every answer is one pydantic model per shape, the `response_model` of its routes (so /openapi.json
documents the real fields). A model is validated from what a service returns: a row or a dataclass
(`from_attributes`), or a service's result dict. Only the declared fields pass, and none of them
holds a secret: a stored API key, SSH key, passphrase or password shows only as a `has_*` flag, read
from its ciphertext column and kept as a bool; a user's password hash and token version have no
field at all. (The bearer token and the terminal ticket are the caller's own credentials, issued to
it in the answer.)
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
)

T = TypeVar("T")

# Timestamps as datetime.isoformat() writes them ("+00:00", not pydantic's "Z"): what the API
# has always answered.
Timestamp = Annotated[
    datetime,
    PlainSerializer(lambda value: value.isoformat(), return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
Rounded = Annotated[float, BeforeValidator(lambda value: round(value, 10))]


# Whether a secret is stored: read from its ciphertext column (or a service's `has_*` key) and
# turned into a bool before the model keeps it.
StoredFlag = Annotated[bool, BeforeValidator(bool)]


def stored(column: str) -> Any:
    return Field(validation_alias=AliasChoices("has_" + column.removesuffix("_ciphertext"), column))


class Public(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int = Field(description="how many match, on every page")


class Items(BaseModel, Generic[T]):
    items: list[T]


class ErrorPublic(BaseModel):
    """A refusal; some add `field` (the input at fault) or `fields` (a payload's validation errors)."""

    error: str


class StatusPublic(BaseModel):
    status: str


# ---- health ---------------------------------------------------------------------------------------


class Ready(BaseModel):
    status: Literal["ok"]
    revision: str | None


class NotReady(BaseModel):
    status: Literal["unavailable"]
    database: str = Field(description='"not migrated", or "unreachable: <error type>"')
    revision: str | None = Field(default=None, description="when not migrated: the database's revision")
    head: str | None = Field(default=None, description="when not migrated: the code's")


# ---- audit ----------------------------------------------------------------------------------------


class AuditEventPublic(Public):
    id: int
    at: Timestamp
    actor: str
    action: str
    target: str
    address: str
    success: bool
    details: dict[str, Any]


# ---- webhook and auth -----------------------------------------------------------------------------


class WebhookResult(BaseModel):
    status: Literal["ok"] = "ok"
    notification_id: int | None = Field(default=None, description="absent when the payload had no alerts")
    received: int
    created: int
    updated: int
    by_action: dict[str, int] | None = Field(default=None, description="absent when the payload had no alerts")


class TokenPublic(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 (OAuth2's token type, not a secret)
    expires_at: Timestamp


class UserPublic(Public):
    username: str
    role: str
