"""`python -m remediation_app create-user|reset-password|rotate-keys`.

Changes are audited with the actor "cli". Passwords are prompted for (twice) or read from standard
input with --password-stdin; never from the command line.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from remediation_app.cli_common import ACTOR, CommandError, with_session

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession

    from remediation_app.models import User

MAX_PASSWORD_INPUT = 4096
# models.Role's values (tests/integration/test_cli.py checks): the parser is built without
# importing the models, so that every command starts fast.
ROLES = ("admin", "user")


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        text = sys.stdin.read(MAX_PASSWORD_INPUT + 2)
        password = text[:-2] if text.endswith("\r\n") else text[:-1] if text.endswith("\n") else text
        if "\n" in password or "\r" in password:
            raise CommandError("the password must be a single line; nothing changed")
        return password
    if not sys.stdin.isatty():
        raise CommandError("no terminal to ask for the password: pipe it in with --password-stdin")
    first = getpass.getpass("New password: ")
    if getpass.getpass("Repeat the password: ") != first:
        raise CommandError("the passwords differ; nothing changed")
    return first


async def _user_by_name(session: AsyncSession, username: str) -> User:
    from sqlmodel import col, select

    from remediation_app.models import User

    user = (await session.exec(select(User).where(col(User.username) == username.strip()))).first()
    if user is None:
        raise CommandError(f"no user {username!r}")
    return user


def _user_change(work: Callable[[AsyncSession], Awaitable[User]]) -> User:
    from remediation_app.services import users

    async def run(session: AsyncSession) -> User:
        try:
            user = await work(session)
        except users.UserError as exc:
            raise CommandError(f"{exc}; nothing changed") from None
        await session.commit()
        return user

    return with_session(run)


def create_user(args: argparse.Namespace) -> int:
    password = _password(args)

    from remediation_app.services import users

    async def create(session: AsyncSession) -> User:
        return await users.create_user(session, actor=ACTOR, username=args.username, password=password, role=args.role)

    user = _user_change(create)
    print(f"created user {user.username} ({user.role})")
    return 0


def reset_password(args: argparse.Namespace) -> int:
    password = _password(args)

    from remediation_app.services import users

    async def reset(session: AsyncSession) -> User:
        user = await _user_by_name(session, args.username)
        assert user.id is not None
        return await users.reset_password(session, actor=ACTOR, user_id=user.id, password=password)

    user = _user_change(reset)
    print(f"password reset for {user.username}; their open sessions have ended")
    return 0


def rotate_keys(_args: argparse.Namespace) -> int:
    """Re-encrypt every stored secret with the first (newest) key of ENCRYPTION_KEY, in one transaction."""
    from remediation_app import crypto
    from remediation_app.services import audit, key_rotation

    async def run(session: AsyncSession) -> int:
        count = await key_rotation.rotate_all(session)
        audit.record(session, action="keys.rotate", actor=ACTOR, details={"reencrypted": count})
        await session.commit()
        return count

    try:
        count = with_session(run)
    except (crypto.DecryptionError, crypto.CryptoConfigError) as exc:
        raise CommandError(f"rotate-keys failed, nothing changed: {exc}") from None
    except CommandError as exc:
        raise CommandError(f"rotate-keys failed, nothing changed: {exc}") from None
    print(f"re-encrypted {count} secret{'' if count == 1 else 's'} with the newest key")
    return 0
