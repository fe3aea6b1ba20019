"""`python -m remediation_app rotate-keys`: every stored secret re-encrypted with the newest key.

The Fernet primitives and the registry of encrypted columns live below the models (crypto.py).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

import remediation_app.models  # noqa: F401  (the tables register their encrypted columns)
from remediation_app import crypto


async def rotate_all(session: AsyncSession) -> int:
    """Re-encrypt every registered secret with the newest key; returns how many were rewritten.

    Every secret is opened before anything is written: one that no key opens raises DecryptionError
    (naming its table and id) and nothing changes. The caller commits. A row changed meanwhile by
    someone else (its ciphertext is no longer the one read) is left alone, already under the newest key.
    """
    crypto.cipher()  # a bad ENCRYPTION_KEY is refused even when nothing is stored yet
    planned: list[tuple[crypto.EncryptedColumn, Any, str, str]] = []
    for entry in crypto.ENCRYPTED_COLUMNS:
        pk, column = entry.table.c[entry.pk], entry.table.c[entry.column]
        # "" means nothing stored (e.g. a provider without an API key).
        rows = await session.exec(select(pk, column).where(column.is_not(None), column != "").order_by(pk))
        for ident, token in rows.all():
            record = crypto.record_name(entry.table.name, ident, entry.label)
            planned.append((entry, ident, token, crypto.reencrypt(token, record=record)))
    rewritten = 0
    for entry, ident, old, new in planned:
        pk, column = entry.table.c[entry.pk], entry.table.c[entry.column]
        result = await session.exec(sa.update(entry.table).where(pk == ident, column == old).values({column: new}))
        rewritten += result.rowcount
    return rewritten
