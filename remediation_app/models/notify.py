"""Outbound notifications: the routes admins keep (an Apprise URL, encrypted and write-only, with the
events and alerts it wants and its throttle) and the deliveries queued for them (a durable queue the
notification worker claims from, like the analysis jobs)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Column, Field, SQLModel

from remediation_app.crypto import register_encrypted_column
from remediation_app.models.base import SHORT, json_field, ts_field


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"  # waiting for its turn (or for a retry)
    SENDING = "sending"  # a worker holds its lease
    SENT = "sent"
    FAILED = "failed"  # every attempt failed, or it can never be sent; last_error says why
    THROTTLED = "throttled"  # over its route's throttle: counted in a summary message instead
    CANCELLED = "cancelled"  # nothing to send any more (its route or alert is gone)


class NotifyRoute(SQLModel, table=True):
    """Where notifications go: one Apprise URL (it carries the target's tokens or password, so it is
    encrypted at rest and never shown again), which events it wants, for which alerts, and at most
    how many messages per period."""

    __tablename__ = "notify_routes"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, sa_column_kwargs={"unique": True})
    url_ciphertext: str = Field(default="", sa_column=Column(sa.Text(), nullable=False, server_default=""))
    # The URL's scheme as Apprise reads it (json, mailto, slack, ...): shown, and a metrics label.
    target_kind: str = Field(default="", max_length=32)
    # Event kinds (services/notify/events.py): alert, analysis, proposal, fix_verified, fix_failed.
    events: list[str] = Field(default_factory=list, sa_column=Column(sa.JSON(), nullable=False))
    # For "alert": the rules whose new alerts it wants (ids); empty: any rule except an ignore rule.
    rule_ids: list[int] = Field(default_factory=list, sa_column=Column(sa.JSON(), nullable=False))
    # label -> pattern, the syntax of the rules' label patterns; every one must match the alert.
    label_patterns: dict[str, Any] = json_field()
    throttle_max: int = Field(default=10, sa_column_kwargs={"server_default": "10"})
    throttle_minutes: int = Field(default=10, sa_column_kwargs={"server_default": "10"})
    enabled: bool = True
    created_at: datetime = ts_field()
    updated_at: datetime = ts_field()
    updated_by: str = Field(default="", max_length=150)


register_encrypted_column(
    NotifyRoute.__table__,  # type: ignore[attr-defined]
    pk="id",
    column="url_ciphertext",
    label="notification route URL",
)


class NotifyDelivery(SQLModel, table=True):
    """One message for one target: queued in the transaction that produced its event, claimed by a
    notification worker (SKIP LOCKED on PostgreSQL, with a lease), retried with backoff, and kept
    with its last error once sent or given up."""

    __tablename__ = "notify_deliveries"
    __table_args__ = (
        # One message per event per target: an event recorded twice queues it once.
        sa.UniqueConstraint("target_key", "dedup_key", name="uq_notify_deliveries_target_dedup"),
        sa.Index("ix_notify_deliveries_status_next", "status", "next_attempt_at"),
        sa.Index("ix_notify_deliveries_target_slot", "target_key", "slot_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # None for a NOTIFY_URLS target; deleting a route deletes its deliveries.
    route_id: int | None = Field(
        default=None,
        sa_column=Column(
            sa.Integer(), sa.ForeignKey("notify_routes.id", ondelete="CASCADE"), nullable=True, index=True
        ),
    )
    # "route:<id>", or "env:<digest of the URL>" for a NOTIFY_URLS target (never the URL itself).
    target_key: str = Field(max_length=64)
    route_name: str = Field(default="", max_length=100)
    target_kind: str = Field(default="", max_length=32)
    event: str = Field(max_length=16)
    alert_id: int | None = Field(
        default=None,
        sa_column=Column(sa.Integer(), sa.ForeignKey("alerts.id", ondelete="CASCADE"), nullable=True, index=True),
    )
    # The analysis or the proposal the message is about.
    subject_id: int | None = None
    # What the event carries beyond its rows (a fix's outcome; a summary's counts).
    data: dict[str, Any] = json_field()
    dedup_key: str = Field(max_length=100)
    status: str = Field(default=DeliveryStatus.PENDING.value, max_length=16)
    attempts: int = 0
    max_attempts: int = 6
    next_attempt_at: datetime = ts_field()
    lease_expires_at: datetime | None = ts_field(nullable=True)
    locked_by: str = Field(default="", max_length=SHORT)
    # When it took one of its route's throttle slots (its first send; retries keep it).
    slot_at: datetime | None = ts_field(nullable=True)
    # A throttled delivery: the summary delivery that counted it.
    summary_id: int | None = None
    # Sent with every attempt where the target takes it (an HTTP header), so a retry can be deduplicated.
    idempotency_key: str = Field(max_length=36)
    # Masked: never the URL nor any part of it.
    last_error: str = Field(default="", sa_column=Column(sa.Text(), nullable=False, server_default=""))
    created_at: datetime = ts_field(index=True)
    updated_at: datetime = ts_field()
    finished_at: datetime | None = ts_field(nullable=True)
