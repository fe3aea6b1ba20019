"""The audit log: who did what, when, from where."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Field, SQLModel

from remediation_app.models.base import SHORT, json_field, ts_field


class AuditEvent(SQLModel, table=True):
    """Who did what, when, from where; details never hold a secret (redacted before storing)."""

    __tablename__ = "audit_events"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = ts_field(index=True)
    actor_id: int | None = None
    actor: str = Field(default="", max_length=150, index=True)
    action: str = Field(max_length=64, index=True)
    target: str = Field(default="", max_length=SHORT)
    address: str = Field(default="", max_length=64)
    success: bool = True
    details: dict[str, Any] = json_field()
