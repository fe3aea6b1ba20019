"""datasources and evidence for investigations

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 03:49:13
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

import remediation_app.models
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "datasources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("url", sqlmodel.sql.sqltypes.AutoString(length=1024), nullable=False),
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
        "evidence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("analysis_id", sa.Integer(), nullable=False),
        sa.Column("ref", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("datasource", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("query", sa.Text(), server_default="", nullable=False),
        sa.Column("window_start", remediation_app.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("window_end", remediation_app.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("summary", sa.Text(), server_default="", nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("link", sa.Text(), server_default="", nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), server_default="", nullable=False),
        sa.Column("created_at", remediation_app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["analysis_id"], ["analyses.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("analysis_id", "ref", name="uq_evidence_analysis_ref"),
    )
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_evidence_analysis_id"), ["analysis_id"], unique=False)

    with op.batch_alter_table("analyses", schema=None) as batch_op:
        # Analyses made before investigations have none: an empty object.
        batch_op.add_column(sa.Column("investigation", sa.JSON(), server_default=sa.text("'{}'"), nullable=False))

    with op.batch_alter_table("llm_providers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("tool_calling", sqlmodel.sql.sqltypes.AutoString(length=8), server_default="auto", nullable=False)
        )
        batch_op.add_column(sa.Column("local", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("llm_providers", schema=None) as batch_op:
        batch_op.drop_column("local")
        batch_op.drop_column("tool_calling")

    with op.batch_alter_table("analyses", schema=None) as batch_op:
        batch_op.drop_column("investigation")

    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_evidence_analysis_id"))

    op.drop_table("evidence")
    op.drop_table("datasources")
