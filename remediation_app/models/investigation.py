"""Datasources the engine queries (Prometheus-compatible) and the evidence each analysis gathered."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Column, Field, SQLModel

from remediation_app.crypto import register_encrypted_column
from remediation_app.models.base import SHORT, json_field, ts_field


class Datasource(SQLModel, table=True):
    """A Prometheus-compatible query API (Prometheus, Thanos, Mimir, VictoriaMetrics). The secret (a
    bearer token or a basic-auth password) is encrypted at rest and write-only."""

    __tablename__ = "datasources"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, sa_column_kwargs={"unique": True})
    url: str = Field(max_length=1024)
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
    Datasource.__table__,  # type: ignore[attr-defined]
    pk="id",
    column="secret_ciphertext",
    label="datasource credential",
)


class Evidence(SQLModel, table=True):
    """One piece of evidence an analysis gathered: a query and what came back, as given to the model.

    Rows are written with the analysis (one transaction); `ref` ("E1", "E2", ...) is what the model
    cites. `data` holds a compact form for the UI (a chart's points, a list of alerts), never raw
    answers."""

    __tablename__ = "evidence"
    __table_args__ = (sa.UniqueConstraint("analysis_id", "ref", name="uq_evidence_analysis_ref"),)

    id: int | None = Field(default=None, primary_key=True)
    analysis_id: int = Field(
        sa_column=Column(sa.Integer(), sa.ForeignKey("analyses.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    ref: str = Field(max_length=16)
    # metric, related_alerts, history, datasource, or tool_* for what the model asked for
    kind: str = Field(max_length=32)
    title: str = Field(default="", max_length=SHORT)
    datasource: str = Field(default="", max_length=100)
    query: str = Field(default="", sa_column=Column(sa.Text(), nullable=False, server_default=""))
    window_start: datetime | None = ts_field(nullable=True)
    window_end: datetime | None = ts_field(nullable=True)
    summary: str = Field(default="", sa_column=Column(sa.Text(), nullable=False, server_default=""))
    data: dict[str, Any] = json_field()
    link: str = Field(default="", sa_column=Column(sa.Text(), nullable=False, server_default=""))
    duration_ms: int = 0
    error: str = Field(default="", sa_column=Column(sa.Text(), nullable=False, server_default=""))
    created_at: datetime = ts_field()
