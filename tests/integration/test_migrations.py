"""Migrations: they build exactly the tables the models declare, and replicas starting together on
PostgreSQL take turns (an advisory lock), and all succeed."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import remediation_app.models  # noqa: F401  (every table on SQLModel.metadata)
from remediation_app.db import sync_engine
from remediation_app.models.memory import include_object
from remediation_app.services import migrations
from tests.support.app_server import ROOT


def test_the_migrated_schema_is_what_the_models_declare(database_url):
    """A table, column, type, index or constraint in models/ without its migration (or the reverse).
    The full-text objects of migration 0013 (an FTS5 table on SQLite, an expression index on
    PostgreSQL) are left out, as alembic/env.py does: SQLAlchemy's metadata cannot declare them."""
    engine = sync_engine(database_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"include_object": include_object})
            diffs = compare_metadata(context, SQLModel.metadata)
    finally:
        engine.dispose()
    assert diffs == []


def test_concurrent_upgrades_on_postgresql_all_succeed(db_kind, blank_database_url, tmp_path):
    if db_kind != "postgres":
        pytest.skip("SQLite has one writer: one process at a time migrates anyway")
    env = {**os.environ, "DATABASE_URL": blank_database_url, "DATA_DIR": str(tmp_path)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "remediation_app", "db", "upgrade"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outputs
    with sync_engine(blank_database_url).connect() as conn:
        assert migrations.current_revision(conn) == migrations.head_revision()
