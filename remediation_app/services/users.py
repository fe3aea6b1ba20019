"""Users (the table and the first admin; logins come with the auth issue)."""

from __future__ import annotations

import logging
import secrets
import sys

import sqlalchemy as sa
from sqlmodel import func, select

from remediation_app.db import async_session
from remediation_app.models import Role, User, utcnow
from remediation_app.services.security import hash_password
from remediation_app.settings import get_settings

log = logging.getLogger(__name__)


async def ensure_first_admin() -> bool:
    """Create the first admin when there are no users; True if this call created it.

    Several workers may race here: the unique username lets exactly one win. A generated password
    is printed once, by the winner, to stdout (not to the log stream).
    """
    settings = get_settings()
    async with async_session() as session:
        if (await session.exec(select(func.count()).select_from(User))).one():
            return False
        generated = settings.admin_password is None
        password = secrets.token_urlsafe(16) if generated else settings.admin_password.get_secret_value()  # type: ignore[union-attr]
        now = utcnow()
        session.add(
            User(
                username=settings.admin_username,
                password_hash=hash_password(password),
                role=Role.ADMIN.value,
                created_at=now,
                updated_at=now,
            )
        )
        try:
            await session.commit()
        except sa.exc.IntegrityError:
            return False
    log.info("created the first admin user %r", settings.admin_username)
    if generated:
        print(
            f"\n*** First admin created: username {settings.admin_username!r}, password {password}\n"
            "*** It is shown only this once. Set ADMIN_PASSWORD to choose your own.\n",
            file=sys.stdout,
            flush=True,
        )
    return True
