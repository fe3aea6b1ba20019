"""What every admin command shares: its error, and a database session on an event loop of its own.

Kept free of heavy imports at module level: `python -m remediation_app <command>` imports only what
the command needs (see cli.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession

ACTOR = "cli"
T = TypeVar("T")


class CommandError(Exception):
    """A command that cannot go on; the message is printed, the exit status is 1."""


def with_session(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `work` in a session of its own event loop, closing every connection afterwards."""
    import sqlalchemy as sa

    from remediation_app.db import async_session, dispose_engines

    async def run() -> T:
        try:
            async with async_session() as session:
                return await work(session)
        finally:
            await dispose_engines()

    try:
        return asyncio.run(run())
    except sa.exc.SQLAlchemyError as exc:  # unreachable or not migrated (no SQL parameters are shown)
        reason = exc.orig if isinstance(exc, sa.exc.DBAPIError) else exc
        raise CommandError(f"database error: {str(reason).splitlines()[0] if str(reason) else exc}") from None
