"""Alerts as Alertmanager sends them, the notifications that carried them, and the rules that decide them."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Column, Field, SQLModel

from remediation_app.models.base import SHORT, json_field, ts_field


class RuleAction(enum.StrEnum):
    AUTO_ANALYZE = "auto_analyze"
    MANUAL = "manual"
    IGNORE = "ignore"


class AlertStatus(enum.StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


class Alert(SQLModel, table=True):
    __tablename__ = "alerts"
    __table_args__ = (
        sa.UniqueConstraint("fingerprint", "starts_at", name="uq_alerts_fingerprint_starts_at"),
        sa.Index("ix_alerts_last_received_id", "last_received_at", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    fingerprint: str = Field(max_length=128)
    starts_at: datetime = ts_field()
    ends_at: datetime | None = ts_field(nullable=True)
    status: str = Field(max_length=16, index=True)
    alertname: str = Field(default="", max_length=SHORT, index=True)
    severity: str = Field(default="", max_length=SHORT, index=True)
    instance: str = Field(default="", max_length=SHORT)
    job: str = Field(default="", max_length=SHORT)
    summary: str = Field(default="", sa_column=Column(sa.Text(), nullable=False, server_default=""))
    labels: dict[str, str] = json_field()
    annotations: dict[str, str] = json_field()
    generator_url: str = Field(default="", sa_column=Column(sa.Text(), nullable=False, server_default=""))
    group_key: str = Field(default="", sa_column=Column(sa.Text(), nullable=False, server_default=""))
    receiver: str = Field(default="", max_length=SHORT)
    first_received_at: datetime = ts_field()
    last_received_at: datetime = ts_field()
    times_notified: int = 1
    action: str = Field(max_length=16, index=True)
    # No foreign key: a rule deleted later must not block or rewrite what an alert was decided by.
    matched_rule_id: int | None = Field(default=None, index=True)
    matched_rule_name: str = Field(default="", max_length=SHORT)
    match_reason: str = Field(default="", sa_column=Column(sa.Text(), nullable=False, server_default=""))
    # The notification's externalURL: which Alertmanager the alert came from.
    external_url: str = Field(default="", sa_column=Column(sa.Text(), nullable=False, server_default=""))
    incident_id: int | None = Field(
        default=None,
        sa_column=Column(sa.Integer(), sa.ForeignKey("incidents.id", ondelete="SET NULL"), nullable=True, index=True),
    )
    # Alertmanager's view, from the sync loop: "" (not seen yet), active, suppressed or unprocessed,
    # and the silences or inhibiting alerts that suppress it.
    am_state: str = Field(default="", max_length=16, sa_column_kwargs={"server_default": ""})
    am_silenced_by: list[str] = Field(
        default_factory=list, sa_column=Column(sa.JSON(), nullable=False, server_default="[]")
    )
    am_inhibited_by: list[str] = Field(
        default_factory=list, sa_column=Column(sa.JSON(), nullable=False, server_default="[]")
    )
    am_synced_at: datetime | None = ts_field(nullable=True)
    acked_by: str = Field(default="", max_length=150, sa_column_kwargs={"server_default": ""})
    acked_at: datetime | None = ts_field(nullable=True)


class Notification(SQLModel, table=True):
    """One webhook delivery as it arrived; pruned after the retention period."""

    __tablename__ = "notifications"

    id: int | None = Field(default=None, primary_key=True)
    received_at: datetime = ts_field(index=True)
    receiver: str = Field(default="", max_length=SHORT)
    status: str = Field(default="", max_length=16)
    group_key: str = Field(default="", sa_column=Column(sa.Text(), nullable=False, server_default=""))
    group_labels: dict[str, str] = json_field()
    common_labels: dict[str, str] = json_field()
    common_annotations: dict[str, str] = json_field()
    external_url: str = Field(default="", sa_column=Column(sa.Text(), nullable=False, server_default=""))
    alert_count: int = 0
    truncated_alerts: int = 0


class AlertNotification(SQLModel, table=True):
    """Which notification carried which alert, and the status it reported: the alert's timeline."""

    __tablename__ = "alert_notifications"

    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(
        sa_column=Column(sa.Integer(), sa.ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    notification_id: int = Field(
        sa_column=Column(
            sa.Integer(), sa.ForeignKey("notifications.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    status: str = Field(max_length=16)
    received_at: datetime = ts_field()


class Rule(SQLModel, table=True):
    __tablename__ = "rules"
    # Ids never come back after a delete (SQLite reuses the highest one otherwise): per-rule hit counts
    # are counted by matched_rule_id.
    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=SHORT, sa_column_kwargs={"unique": True})
    description: str = Field(default="", sa_column=Column(sa.Text(), nullable=False, server_default=""))
    enabled: bool = True
    priority: int = Field(default=100, index=True)
    alertname_pattern: str = Field(default="", max_length=1024)
    severity_pattern: str = Field(default="", max_length=1024)
    instance_pattern: str = Field(default="", max_length=1024)
    job_pattern: str = Field(default="", max_length=1024)
    label_patterns: dict[str, str] = json_field()
    action: str = Field(max_length=16)
    created_at: datetime = ts_field()
    updated_at: datetime = ts_field()


class RuleSetVersion(SQLModel, table=True):
    """A single row bumped on every rule change, so each process knows when to recompile."""

    __tablename__ = "rule_set_version"

    id: int = Field(default=1, primary_key=True)
    version: int = 0
