"""diagnostic proposals and policy

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 06:42:51.594754

The commands models propose for a server (checked by the policy, run once after a person approved them)
and the policy in force (one row: its YAML document and version).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

import remediation_app.models
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "diagnostic_policies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("document", sa.Text(), server_default="", nullable=False),
        sa.Column("updated_by", sqlmodel.sql.sqltypes.AutoString(length=150), nullable=False),
        sa.Column("updated_at", remediation_app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "diagnostic_proposals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("origin", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("conversation_id", sa.Integer(), nullable=True),
        sa.Column("tool_call_id", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("server_id", sa.Integer(), nullable=True),
        sa.Column("server_name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("command", sa.Text(), server_default="", nullable=False),
        sa.Column("proposed", sa.Text(), server_default="", nullable=False),
        sa.Column("reason", sa.Text(), server_default="", nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("verdict", sa.Text(), server_default="", nullable=False),
        sa.Column("policy_group", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("policy_version", sa.Integer(), nullable=False),
        sa.Column("created_at", remediation_app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", remediation_app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sqlmodel.sql.sqltypes.AutoString(length=150), nullable=False),
        sa.Column("decided_by_user_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", remediation_app.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), server_default="", nullable=False),
        sa.Column("runner", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("lease_expires_at", remediation_app.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("started_at", remediation_app.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", remediation_app.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("exit_status", sa.Integer(), nullable=True),
        sa.Column("timed_out", sa.Boolean(), nullable=False),
        sa.Column("truncated", sa.Boolean(), nullable=False),
        sa.Column("stdout", sa.Text(), server_default="", nullable=False),
        sa.Column("stderr", sa.Text(), server_default="", nullable=False),
        sa.Column("output_bytes", sa.Integer(), nullable=False),
        sa.Column("output_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("error", sa.Text(), server_default="", nullable=False),
        sa.Column("continuation", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alerts.id"], name="fk_diagnostic_proposals_alert_id", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name="fk_diagnostic_proposals_conversation_id",
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["server_id"], ["ssh_servers.id"], name="fk_diagnostic_proposals_server_id", ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("diagnostic_proposals", schema=None) as batch_op:
        batch_op.create_index("ix_diagnostic_proposals_alert_created", ["alert_id", "created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_diagnostic_proposals_conversation_id"), ["conversation_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_diagnostic_proposals_job_id"), ["job_id"], unique=False)
        batch_op.create_index("ix_diagnostic_proposals_status_expires", ["status", "expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("diagnostic_proposals", schema=None) as batch_op:
        batch_op.drop_index("ix_diagnostic_proposals_status_expires")
        batch_op.drop_index(batch_op.f("ix_diagnostic_proposals_job_id"))
        batch_op.drop_index(batch_op.f("ix_diagnostic_proposals_conversation_id"))
        batch_op.drop_index("ix_diagnostic_proposals_alert_created")

    op.drop_table("diagnostic_proposals")
    op.drop_table("diagnostic_policies")
