"""What records share: the pieces of a public view (`columns`, `isoformat`), and for the records
admins manage (LLM providers, SSH servers, datasources) a field error, the write-only secret's
rules, and `Records`: listing, the name check, the audited save and delete, one default at a time,
and what "Test connection" tries."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlmodel import SQLModel, col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.crypto import DecryptionError
from remediation_app.db import async_session
from remediation_app.models import User
from remediation_app.services import audit

R = TypeVar("R", bound=SQLModel)
Config = TypeVar("Config")
ENV_ID = 0  # the record from the environment (LLM_MODEL, PROMETHEUS_URL), listed before the stored ones


def columns(row: Any, *names: str) -> dict[str, Any]:
    """The named attributes of `row` by name: the part of a public view that is shown as stored."""
    return {name: getattr(row, name) for name in names}


def isoformat(moment: datetime | None) -> str | None:
    """A timestamp that may be missing, as a public view writes it (None stays None)."""
    return moment.isoformat() if moment else None


class FieldError(ValueError):
    """A record that cannot be saved; names the form field ("" when it is about the whole record)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field


def check_secret(error: type[FieldError], field: str, value: str | None, limit: int) -> None:
    """A write-only secret as a form sends it: None keeps the stored one, "" removes it."""
    if value is None:
        return
    if len(value) > limit:
        raise error(field, f"at most {limit} characters")
    if value != value.strip() or any(ord(c) < 0x20 for c in value):
        raise error(field, "no spaces at the ends, no control characters")


@dataclass(frozen=True)
class Records(Generic[R]):
    """One kind of record admins manage: its table (with `id` and a unique `name`), what one is
    called (`noun`, in messages), the error that refuses one, and its audit actions' prefix
    (`<action>.create`, `.update`, `.delete`). The caller commits."""

    model: type[R]
    noun: str
    error: type[FieldError]
    action: str

    async def all(self, session: AsyncSession) -> list[R]:
        """Every stored record, by name."""
        table: Any = self.model
        return list((await session.exec(select(table).order_by(col(table.name)))).all())

    async def stored(self, session: AsyncSession, row_id: int) -> R:
        """The record a change is about (the error naming `id` when it is gone)."""
        row = await session.get(self.model, row_id)
        if row is None:
            raise self.error("id", f"no such {self.noun} (deleted meanwhile?)")
        return row

    async def check_name(self, session: AsyncSession, name: str, row_id: int | None) -> None:
        """Refuse a name another record has (a form's own record keeps its name)."""
        table: Any = self.model
        clash = (await session.exec(select(table.id).where(col(table.name) == name))).first()
        if clash is not None and clash != row_id:
            raise self.error("name", f"a {self.noun} named {name!r} exists")

    async def only_default(self, session: AsyncSession, row: Any) -> None:
        """When `row` is the default, no other record is any more."""
        if row.is_default:
            table: Any = self.model
            await session.exec(update(table).values(is_default=False).where(col(table.id) != row.id))

    def audit_saved(
        self, session: AsyncSession, row: Any, *, created: bool, actor: User, address: str, details: dict[str, Any]
    ) -> None:
        action = f"{self.action}.{'create' if created else 'update'}"
        audit.record(session, action=action, actor=actor, target=row.name, address=address, details=details)

    async def delete(self, session: AsyncSession, row_id: int, *, actor: User, address: str = "") -> None:
        """Delete one record by id, audited with its name."""
        row: Any = await self.stored(session, row_id)
        await session.delete(row)
        audit.record(session, action=f"{self.action}.delete", actor=actor, target=row.name, address=address)

    async def to_test(
        self, row_id: int, *, env: Callable[[], Config | None], env_unset: str, config_of: Callable[[R], Config]
    ) -> Config | str:
        """What "Test connection" tries: the environment's configuration for ENV_ID (`env_unset` when
        it is not set), else the stored record's (decrypted); a str says why there is none. The
        session is closed before the caller's test, which may take up to the record's timeout."""
        async with async_session() as session:
            try:
                if row_id == ENV_ID:
                    config = env()
                    return env_unset if config is None else config
                row = await session.get(self.model, row_id)
                return f"no such {self.noun}" if row is None else config_of(row)
            except DecryptionError as exc:
                return str(exc)
