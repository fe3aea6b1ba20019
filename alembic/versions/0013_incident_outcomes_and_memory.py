"""incident outcomes and memory

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 07:18:56.801415

What people record once an alert was handled and the engine's verdict on the fix (issue #17), with a
full-text index per dialect (models/memory.py): on SQLite an FTS5 table with external content and
three triggers; on PostgreSQL a GIN index over a tsvector expression. Neither is in the metadata:
alembic's compare leaves them out (models.memory.include_object).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

import remediation_app.models
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# models.memory.SEARCH_DOCUMENT_PG as it was when this migration was written (queries must use it).
SEARCH_DOCUMENT_PG = (
    "to_tsvector('english'::regconfig, alertname || ' ' || summary || ' ' || description || ' ' || "
    "root_cause || ' ' || fix || ' ' || (commands)::text || ' ' || (tags)::text)"
)
# The FTS5 table reads its text from `outcomes` (external content); the triggers keep its index in step
# (an external-content index is told the old values to remove them).
FTS_TABLE = (
    "CREATE VIRTUAL TABLE outcomes_fts USING fts5(alertname, summary, description, root_cause, fix, commands, "
    "tags, content='outcomes', content_rowid='id', tokenize='porter unicode61')"
)
FTS_INSERT = (
    "INSERT INTO outcomes_fts(rowid, alertname, summary, description, root_cause, fix, commands, tags) "
    "VALUES (new.id, new.alertname, new.summary, new.description, new.root_cause, new.fix, new.commands, new.tags);"
)
FTS_DELETE = (
    "INSERT INTO outcomes_fts(outcomes_fts, rowid, alertname, summary, description, root_cause, fix, commands, tags) "
    "VALUES ('delete', old.id, old.alertname, old.summary, old.description, old.root_cause, old.fix, old.commands, "
    "old.tags);"
)
FTS_TRIGGERS = {
    "outcomes_fts_ai": f"AFTER INSERT ON outcomes BEGIN {FTS_INSERT} END",
    "outcomes_fts_ad": f"AFTER DELETE ON outcomes BEGIN {FTS_DELETE} END",
    "outcomes_fts_au": f"AFTER UPDATE ON outcomes BEGIN {FTS_DELETE} {FTS_INSERT} END",
}


def _create_search() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE INDEX ix_outcomes_search ON outcomes USING gin ({SEARCH_DOCUMENT_PG})")
        return
    op.execute(FTS_TABLE)
    for name, body in FTS_TRIGGERS.items():
        op.execute(f"CREATE TRIGGER {name} {body}")


def _drop_search() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_outcomes_search")
        return
    for name in FTS_TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.execute("DROP TABLE IF EXISTS outcomes_fts")


def upgrade() -> None:
    op.create_table(
        "outcomes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.Column("analysis_id", sa.Integer(), nullable=True),
        sa.Column("fingerprint", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("alertname", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=True),
        sa.Column("rule_name", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("provider_name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("model", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("summary", sa.Text(), server_default="", nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("verdict", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("root_cause", sa.Text(), server_default="", nullable=False),
        sa.Column("fix", sa.Text(), server_default="", nullable=False),
        sa.Column("commands", sa.JSON(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("fix_at", remediation_app.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("fix_from", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("fix_status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("fix_detail", sa.Text(), server_default="", nullable=False),
        sa.Column("fix_evidence", sa.JSON(), nullable=False),
        sa.Column("fix_checked_at", remediation_app.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=150), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", remediation_app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sqlmodel.sql.sqltypes.AutoString(length=150), nullable=False),
        sa.Column("updated_at", remediation_app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("edits", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"], name="fk_outcomes_alert_id", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["analysis_id"], ["analyses.id"], name="fk_outcomes_analysis_id", ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"], name="fk_outcomes_incident_id", ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("alert_id", name="uq_outcomes_alert_id"),
    )
    with op.batch_alter_table("outcomes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outcomes_alertname"), ["alertname"], unique=False)
        batch_op.create_index(batch_op.f("ix_outcomes_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_outcomes_fingerprint"), ["fingerprint"], unique=False)
        batch_op.create_index(batch_op.f("ix_outcomes_fix_status"), ["fix_status"], unique=False)
        batch_op.create_index(batch_op.f("ix_outcomes_incident_id"), ["incident_id"], unique=False)
    _create_search()


def downgrade() -> None:
    _drop_search()
    with op.batch_alter_table("outcomes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outcomes_incident_id"))
        batch_op.drop_index(batch_op.f("ix_outcomes_fix_status"))
        batch_op.drop_index(batch_op.f("ix_outcomes_fingerprint"))
        batch_op.drop_index(batch_op.f("ix_outcomes_created_at"))
        batch_op.drop_index(batch_op.f("ix_outcomes_alertname"))

    op.drop_table("outcomes")
