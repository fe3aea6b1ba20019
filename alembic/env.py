"""Alembic over SQLModel.metadata; the URL comes from settings (or the caller), batch mode for SQLite."""

from logging.config import fileConfig

import sqlalchemy as sa
from sqlmodel import SQLModel

import remediation_app.models  # noqa: F401  (registers the tables)
from alembic import context
from remediation_app.db import sync_engine
from remediation_app.models.memory import include_object
from remediation_app.settings import get_settings

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = SQLModel.metadata


def run_migrations_offline() -> None:
    url = config.attributes.get("database_url") or get_settings().database_url
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    url = config.attributes.get("database_url") or get_settings().database_url
    with sync_engine(url).connect() as connection:
        if connection.dialect.name == "postgresql":
            # An index on a big table may take longer than the app's statement timeout.
            connection.execute(sa.text("SET statement_timeout = 0"))
        # The full-text objects of migration 0013 are not in the metadata (models/memory.py).
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=True,
            include_object=include_object,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
