"""known clients for login throttling: device cookies and addresses that logged in before

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import remediation_app.models

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "known_clients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("value", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", remediation_app.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_success_at", remediation_app.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "kind", "value", name="uq_known_clients_user_kind_value"),
    )
    with op.batch_alter_table("known_clients", schema=None) as batch_op:
        batch_op.create_index("ix_known_clients_kind_value", ["kind", "value"], unique=False)
        batch_op.create_index(batch_op.f("ix_known_clients_last_success_at"), ["last_success_at"], unique=False)

    with op.batch_alter_table("login_attempts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "known_client", sqlmodel.sql.sqltypes.AutoString(length=80), server_default="", nullable=False
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("login_attempts", schema=None) as batch_op:
        batch_op.drop_column("known_client")

    with op.batch_alter_table("known_clients", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_known_clients_last_success_at"))
        batch_op.drop_index("ix_known_clients_kind_value")

    op.drop_table("known_clients")
