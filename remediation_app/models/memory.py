"""Incident memory: what people recorded once an alert was handled (was the analysis right, the real
root cause, the fix and its commands, tags) and the engine's verdict on that fix (services/memory/).

An outcome copies what it needs of its alert and analysis (alertname, labels, summary, description,
rule, provider): the memory and the reliability figures stay readable when a rule or a provider is
renamed or deleted, and the full-text index covers one table.

The full-text index is not in the metadata (neither dialect's form is a SQLAlchemy object): migration
0013 creates it per dialect, and alembic's compare leaves those objects out (`include_object`).
- SQLite: the FTS5 table `outcomes_fts` (external content: it reads `outcomes`), kept in step by
  the triggers outcomes_fts_ai/_ad/_au. A later migration that rebuilds `outcomes` in batch mode
  (copy and rename) drops those triggers: it must create them again.
- PostgreSQL: the GIN index `ix_outcomes_search` over SEARCH_DOCUMENT_PG; a query uses it only with
  that very expression (services/memory/similarity.py).
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Column, Field, SQLModel

from remediation_app.models.base import SHORT, json_field, ts_field


class Verdict(enum.StrEnum):
    """Was the analysis right?"""

    RIGHT = "right"
    PARTLY = "partly"
    WRONG = "wrong"


class FixStatus(enum.StrEnum):
    """The engine's verdict on a recorded fix (services/memory/verification.py)."""

    PENDING = "pending"  # not judged yet: the window or the hold time is still running
    VERIFIED = "verified"  # resolved within the window after the fix and did not fire again
    FAILED = "failed"  # fired again within the hold time (or its expression still held)
    UNVERIFIED = "unverified"  # did not resolve within the window after the fix, or before it


# Objects migration 0013 creates that the metadata does not declare (see the module's docstring).
FTS_TABLE = "outcomes_fts"
SEARCH_INDEX = "ix_outcomes_search"
# The document PostgreSQL indexes and searches (the index's expression, word for word).
SEARCH_DOCUMENT_PG = (
    "to_tsvector('english'::regconfig, alertname || ' ' || summary || ' ' || description || ' ' || "
    "root_cause || ' ' || fix || ' ' || (commands)::text || ' ' || (tags)::text)"
)


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """alembic's filter (alembic/env.py and the migration test): the full-text objects are the
    migration's, not the metadata's (the FTS5 table and its shadow tables; the expression index)."""
    return not (reflected and compare_to is None and name is not None and name.startswith((FTS_TABLE, SEARCH_INDEX)))


class IncidentOutcome(SQLModel, table=True):
    """What happened to one alert, as a person recorded it (one per alert, editable), and whether its
    fix held."""

    __tablename__ = "outcomes"
    __table_args__ = (sa.UniqueConstraint("alert_id", name="uq_outcomes_alert_id"),)

    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(
        sa_column=Column(sa.Integer(), sa.ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False)
    )
    incident_id: int | None = Field(
        default=None,
        sa_column=Column(sa.Integer(), sa.ForeignKey("incidents.id", ondelete="SET NULL"), nullable=True, index=True),
    )
    # The analysis judged (the alert's latest when the outcome was recorded).
    analysis_id: int | None = Field(
        default=None,
        sa_column=Column(sa.Integer(), sa.ForeignKey("analyses.id", ondelete="SET NULL"), nullable=True),
    )
    # Copied from the alert and the analysis (see the module).
    fingerprint: str = Field(default="", max_length=128, index=True)
    alertname: str = Field(default="", max_length=SHORT, index=True)
    rule_id: int | None = None
    rule_name: str = Field(default="", max_length=SHORT)
    provider_name: str = Field(default="", max_length=100)
    model: str = Field(default="", max_length=255)
    labels: dict[str, str] = json_field()
    summary: str = Field(default="", sa_column=Column(sa.Text(), nullable=False, server_default=""))
    description: str = Field(default="", sa_column=Column(sa.Text(), nullable=False, server_default=""))
    # What the person recorded.
    verdict: str = Field(max_length=16)
    root_cause: str = Field(default="", sa_column=Column(sa.Text(), nullable=False, server_default=""))
    fix: str = Field(default="", sa_column=Column(sa.Text(), nullable=False, server_default=""))
    commands: list[str] = Field(default_factory=list, sa_column=Column(sa.JSON(), nullable=False))
    tags: list[str] = Field(default_factory=list, sa_column=Column(sa.JSON(), nullable=False))
    # When the fix was applied: its last command with a known time, else when it was recorded.
    fix_at: datetime | None = ts_field(nullable=True)
    # terminal, diagnostic or recorded: where fix_at comes from
    fix_from: str = Field(default="recorded", max_length=16)
    # The engine's verdict on the fix (FixStatus), what it found and when it last looked.
    fix_status: str = Field(default=FixStatus.PENDING.value, max_length=16, index=True)
    fix_detail: str = Field(default="", sa_column=Column(sa.Text(), nullable=False, server_default=""))
    fix_evidence: dict[str, Any] = json_field()
    fix_checked_at: datetime | None = ts_field(nullable=True)
    created_by: str = Field(default="", max_length=150)
    created_by_id: int | None = None
    created_at: datetime = ts_field(index=True)
    updated_by: str = Field(default="", max_length=150)
    updated_at: datetime = ts_field()
    edits: int = 0
