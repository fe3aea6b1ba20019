"""The first admin's generated password, shown at the end of the start-up (not lost among its logs).

The app's lifespan creates the first admin when there are no users (services/users.py), with
ADMIN_PASSWORD or, unset, a generated password it prints as it goes, mid-start. Here, before the
server starts, a password is generated into ADMIN_PASSWORD of this process when the database has
no user yet and none was given: the lifespan then creates the admin with it (and prints nothing),
and the start-up banner shows it, once the server answers, if the admin really has it (another
replica starting at the same moment may have created the admin first, with its own).

The password lives only in this process's environment (and its forked workers'), never in argv,
a file or the log.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass

import sqlalchemy as sa

from remediation_app.settings import Settings, get_settings


def _scalar(url: str, sql: str, **params: str) -> object:
    """One value from a short-lived engine (closed at once: workers may be forked after this)."""
    engine = sa.create_engine(url, connect_args={"timeout": 5} if url.startswith("sqlite") else {"connect_timeout": 5})
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(sql), params).scalar()
    finally:
        engine.dispose()


@dataclass
class FirstAdmin:
    username: str
    database_url: str
    password: str | None = None

    @classmethod
    def prepare(cls, settings: Settings) -> FirstAdmin:
        admin = cls(username=settings.admin_username, database_url=settings.database_url)
        if settings.admin_password is not None:
            return admin
        try:
            users = _scalar(settings.database_url, "SELECT count(*) FROM users")
        except sa.exc.SQLAlchemyError:
            return admin  # not migrated or unreachable: the lifespan decides (and prints) as before
        if users == 0:
            admin.password = secrets.token_urlsafe(16)
            os.environ["ADMIN_PASSWORD"] = admin.password
            get_settings.cache_clear()  # the lifespan's settings must see it
        return admin

    def created_password(self) -> str | None:
        """The generated password if the first admin was created with it, else None."""
        if self.password is None:
            return None
        from remediation_app.services.security import verify_password

        try:
            stored = _scalar(
                self.database_url, "SELECT password_hash FROM users WHERE username = :name", name=self.username
            )
        except sa.exc.SQLAlchemyError:
            return None
        return self.password if isinstance(stored, str) and verify_password(self.password, stored) else None
