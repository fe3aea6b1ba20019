"""The on-call side: Alertmanager connections, the silences and acks made through them, and
incidents (the alerts Alertmanager grouped together under one groupKey)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Column, Field, SQLModel

from remediation_app.crypto import register_encrypted_column
from remediation_app.models.base import SHORT, json_field, ts_field


class AlertmanagerConn(SQLModel, table=True):
    """An Alertmanager's API v2. `external_url` is the URL it advertises in notifications
    (--web.external-url) when that differs from `url`: a notification's externalURL picks the
    connection. The secret (bearer token or basic-auth password) is encrypted and write-only."""

    __tablename__ = "alertmanagers"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, sa_column_kwargs={"unique": True})
    url: str = Field(max_length=1024)
    external_url: str = Field(default="", max_length=1024)
    # none, bearer or basic
    auth: str = Field(default="none", max_length=16)
    username: str = Field(default="", max_length=SHORT)
    secret_ciphertext: str = Field(default="", sa_column=Column(sa.Text(), nullable=False, server_default=""))
    timeout_s: float = 5.0
    is_default: bool = False
    enabled: bool = True
    created_at: datetime = ts_field()
    updated_at: datetime = ts_field()
    updated_by: str = Field(default="", max_length=150)


register_encrypted_column(
    AlertmanagerConn.__table__,  # type: ignore[attr-defined]
    pk="id",
    column="secret_ciphertext",
    label="alertmanager credential",
)


class Silence(SQLModel, table=True):
    """A silence made through the engine (kind "silence"), or the one behind an ack (kind "ack",
    expired by the engine when the alert resolves or after the ack's maximum)."""

    __tablename__ = "silences"
    __table_args__ = (
        sa.UniqueConstraint("alertmanager", "silence_id", name="uq_silences_am_silence"),
        # One active ack per alert: two people pressing Ack at once make one (the other is refused).
        sa.Index(
            "uq_silences_active_ack",
            "alert_id",
            unique=True,
            sqlite_where=sa.text("kind = 'ack' AND state = 'active'"),
            postgresql_where=sa.text("kind = 'ack' AND state = 'active'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    # The connection's name ("environment" for ALERTMANAGER_URL) and Alertmanager's own id.
    alertmanager: str = Field(max_length=100)
    silence_id: str = Field(max_length=64, index=True)
    # No cascade: the record of who silenced what outlives the alert row.
    alert_id: int | None = Field(
        default=None,
        sa_column=Column(sa.Integer(), sa.ForeignKey("alerts.id", ondelete="SET NULL"), nullable=True, index=True),
    )
    kind: str = Field(default="silence", max_length=16)
    # [{"name", "value", "isRegex", "isEqual"}] as sent to Alertmanager
    matchers: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(sa.JSON(), nullable=False))
    comment: str = Field(default="", sa_column=Column(sa.Text(), nullable=False, server_default=""))
    created_by: str = Field(default="", max_length=150)
    starts_at: datetime = ts_field()
    ends_at: datetime = ts_field()
    # active, expired
    state: str = Field(default="active", max_length=16, index=True)
    expired_at: datetime | None = ts_field(nullable=True)
    # a username, or "engine" (an ack's alert resolved, or its maximum passed)
    expired_by: str = Field(default="", max_length=150)
    created_at: datetime = ts_field()


class Incident(SQLModel, table=True):
    """Alerts that Alertmanager grouped together (one groupKey) while any of them fires: a groupKey
    that fires again after all its alerts resolved opens a new incident."""

    __tablename__ = "incidents"
    __table_args__ = (
        sa.Index("ix_incidents_status_last", "status", "last_notified_at"),
        # At most one open incident per groupKey: two first notifications of a group at once open one.
        sa.Index(
            "uq_incidents_open_group_key",
            "group_key",
            unique=True,
            sqlite_where=sa.text("status = 'open'"),
            postgresql_where=sa.text("status = 'open'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    # Alertmanager's groupKey, or "sha256:<hex>" of a longer one (an index entry has a size limit).
    group_key: str = Field(sa_column=Column(sa.Text(), nullable=False, index=True))
    receiver: str = Field(default="", max_length=SHORT)
    group_labels: dict[str, str] = json_field()
    title: str = Field(default="", max_length=SHORT)
    # open, resolved
    status: str = Field(default="open", max_length=16)
    # the highest severity among its alerts
    severity: str = Field(default="", max_length=SHORT)
    alert_count: int = 0
    firing_count: int = 0
    opened_at: datetime = ts_field()
    last_notified_at: datetime = ts_field()
    resolved_at: datetime | None = ts_field(nullable=True)
    # Storm control: the group brought more alerts at once than the threshold and is analysed once.
    storm: bool = False
