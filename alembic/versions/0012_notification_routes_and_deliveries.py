"""notification routes and deliveries

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 07:08:21.135295

Outbound notifications (issue #19): the routes admins keep (an Apprise URL encrypted at rest, the
events, rules and label patterns it wants, its throttle) and the deliveries queued for them (the
durable queue the notification worker claims from).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

import remediation_app.models
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notify_routes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("url_ciphertext", sa.Text(), server_default="", nullable=False),
        sa.Column("target_kind", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("rule_ids", sa.JSON(), nullable=False),
        sa.Column("label_patterns", sa.JSON(), nullable=False),
        sa.Column("throttle_max", sa.Integer(), server_default="10", nullable=False),
        sa.Column("throttle_minutes", sa.Integer(), server_default="10", nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", remediation_app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", remediation_app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sqlmodel.sql.sqltypes.AutoString(length=150), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "notify_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("route_id", sa.Integer(), nullable=True),
        sa.Column("target_key", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("route_name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("target_kind", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("event", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=True),
        sa.Column("subject_id", sa.Integer(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("dedup_key", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", remediation_app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("lease_expires_at", remediation_app.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("locked_by", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("slot_at", remediation_app.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("summary_id", sa.Integer(), nullable=True),
        sa.Column("idempotency_key", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("last_error", sa.Text(), server_default="", nullable=False),
        sa.Column("created_at", remediation_app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", remediation_app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", remediation_app.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"], name="fk_notify_deliveries_alert_id", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["route_id"], ["notify_routes.id"], name="fk_notify_deliveries_route_id", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("target_key", "dedup_key", name="uq_notify_deliveries_target_dedup"),
    )
    with op.batch_alter_table("notify_deliveries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notify_deliveries_alert_id"), ["alert_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_notify_deliveries_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_notify_deliveries_route_id"), ["route_id"], unique=False)
        batch_op.create_index("ix_notify_deliveries_status_next", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index("ix_notify_deliveries_target_slot", ["target_key", "slot_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("notify_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_notify_deliveries_target_slot")
        batch_op.drop_index("ix_notify_deliveries_status_next")
        batch_op.drop_index(batch_op.f("ix_notify_deliveries_route_id"))
        batch_op.drop_index(batch_op.f("ix_notify_deliveries_created_at"))
        batch_op.drop_index(batch_op.f("ix_notify_deliveries_alert_id"))

    op.drop_table("notify_deliveries")
    op.drop_table("notify_routes")
