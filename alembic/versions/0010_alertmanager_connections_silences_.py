"""alertmanager connections, silences, incidents, alert sync state

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 06:31:58.823989
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

import remediation_app.models
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alertmanagers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("url", sqlmodel.sql.sqltypes.AutoString(length=1024), nullable=False),
        sa.Column("external_url", sqlmodel.sql.sqltypes.AutoString(length=1024), nullable=False),
        sa.Column("auth", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("username", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("secret_ciphertext", sa.Text(), server_default="", nullable=False),
        sa.Column("timeout_s", sa.Float(), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", remediation_app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", remediation_app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sqlmodel.sql.sqltypes.AutoString(length=150), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_key", sa.Text(), nullable=False),
        sa.Column("receiver", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("group_labels", sa.JSON(), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("severity", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("alert_count", sa.Integer(), nullable=False),
        sa.Column("firing_count", sa.Integer(), nullable=False),
        sa.Column("opened_at", remediation_app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_notified_at", remediation_app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", remediation_app.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("storm", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_incidents_group_key"), ["group_key"], unique=False)
        batch_op.create_index("ix_incidents_status_last", ["status", "last_notified_at"], unique=False)
        batch_op.create_index(
            "uq_incidents_open_group_key",
            ["group_key"],
            unique=True,
            sqlite_where=sa.text("status = 'open'"),
            postgresql_where=sa.text("status = 'open'"),
        )

    op.create_table(
        "silences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alertmanager", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("silence_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=True),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("matchers", sa.JSON(), nullable=False),
        sa.Column("comment", sa.Text(), server_default="", nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=150), nullable=False),
        sa.Column("starts_at", remediation_app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", remediation_app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("expired_at", remediation_app.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("expired_by", sqlmodel.sql.sqltypes.AutoString(length=150), nullable=False),
        sa.Column("created_at", remediation_app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("alertmanager", "silence_id", name="uq_silences_am_silence"),
    )
    with op.batch_alter_table("silences", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_silences_alert_id"), ["alert_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_silences_silence_id"), ["silence_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_silences_state"), ["state"], unique=False)
        batch_op.create_index(
            "uq_silences_active_ack",
            ["alert_id"],
            unique=True,
            sqlite_where=sa.text("kind = 'ack' AND state = 'active'"),
            postgresql_where=sa.text("kind = 'ack' AND state = 'active'"),
        )

    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("external_url", sa.Text(), server_default="", nullable=False))
        batch_op.add_column(sa.Column("incident_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("am_state", sqlmodel.sql.sqltypes.AutoString(length=16), server_default="", nullable=False)
        )
        batch_op.add_column(sa.Column("am_silenced_by", sa.JSON(), server_default="[]", nullable=False))
        batch_op.add_column(sa.Column("am_inhibited_by", sa.JSON(), server_default="[]", nullable=False))
        batch_op.add_column(
            sa.Column("am_synced_at", remediation_app.models.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("acked_by", sqlmodel.sql.sqltypes.AutoString(length=150), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("acked_at", remediation_app.models.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(batch_op.f("ix_alerts_incident_id"), ["incident_id"], unique=False)
        batch_op.create_foreign_key("fk_alerts_incident_id", "incidents", ["incident_id"], ["id"], ondelete="SET NULL")

    with op.batch_alter_table("analyses", schema=None) as batch_op:
        batch_op.add_column(sa.Column("incident_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_analyses_incident_id"), ["incident_id"], unique=False)

    with op.batch_alter_table("analysis_jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("incident_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_analysis_jobs_incident_id"), ["incident_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("analysis_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_analysis_jobs_incident_id"))
        batch_op.drop_column("incident_id")

    with op.batch_alter_table("analyses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_analyses_incident_id"))
        batch_op.drop_column("incident_id")

    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_constraint("fk_alerts_incident_id", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_alerts_incident_id"))
        batch_op.drop_column("acked_at")
        batch_op.drop_column("acked_by")
        batch_op.drop_column("am_synced_at")
        batch_op.drop_column("am_inhibited_by")
        batch_op.drop_column("am_silenced_by")
        batch_op.drop_column("am_state")
        batch_op.drop_column("incident_id")
        batch_op.drop_column("external_url")

    with op.batch_alter_table("silences", schema=None) as batch_op:
        batch_op.drop_index("uq_silences_active_ack")
        batch_op.drop_index(batch_op.f("ix_silences_state"))
        batch_op.drop_index(batch_op.f("ix_silences_silence_id"))
        batch_op.drop_index(batch_op.f("ix_silences_alert_id"))

    op.drop_table("silences")
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_index("uq_incidents_open_group_key")
        batch_op.drop_index("ix_incidents_status_last")
        batch_op.drop_index(batch_op.f("ix_incidents_group_key"))

    op.drop_table("incidents")
    op.drop_table("alertmanagers")
