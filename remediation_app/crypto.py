"""Secrets at rest: Fernet with key rotation (ENCRYPTION_KEY holds one or more keys, newest first).

Below the models: every column that holds a Fernet token registers itself in ENCRYPTED_COLUMNS (in
models/, next to its table), so that `python -m remediation_app rotate-keys`
(services/key_rotation.py) re-encrypts all of them.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, NamedTuple

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from remediation_app.settings import get_settings

if TYPE_CHECKING:
    import sqlalchemy as sa


class CryptoConfigError(ValueError):
    """ENCRYPTION_KEY is not a comma-separated list of Fernet keys (the message never shows a key)."""


class DecryptionError(Exception):
    """A stored secret that none of the configured keys opens; names the record, never a key."""

    def __init__(self, record: str) -> None:
        super().__init__(f"cannot decrypt {record}: encrypted with a key that is not in ENCRYPTION_KEY")
        self.record = record


class EncryptedColumn(NamedTuple):
    table: sa.Table
    pk: str
    column: str
    label: str  # what one row is, for messages: "app secret", "LLM provider API key"


ENCRYPTED_COLUMNS: list[EncryptedColumn] = []


def register_encrypted_column(table: sa.Table, *, pk: str, column: str, label: str) -> None:
    """Declare a column of Fernet tokens (call it next to the table's model)."""
    _ = (table.c[pk], table.c[column])  # KeyError for a misspelt name
    entry = EncryptedColumn(table, pk, column, label)
    if all((e.table.name, e.column) != (table.name, column) for e in ENCRYPTED_COLUMNS):
        ENCRYPTED_COLUMNS.append(entry)


def record_name(table: str, ident: Any, label: str) -> str:
    """How a stored secret is named in errors: its table and id, never its value or a key."""
    return f"{label} ({table} id={ident})"


@functools.cache
def _multi_fernet(keys: str) -> MultiFernet:
    fernets = []
    for position, key in enumerate(k.strip() for k in keys.split(",") if k.strip()):
        try:
            fernets.append(Fernet(key.encode()))
        except ValueError:
            raise CryptoConfigError(f"ENCRYPTION_KEY entry {position + 1} is not a valid Fernet key") from None
    if not fernets:
        raise CryptoConfigError("ENCRYPTION_KEY is empty")
    return MultiFernet(fernets)


def clear_cache() -> None:
    """Forget the parsed keys (tests that change ENCRYPTION_KEY; settings are cached separately)."""
    _multi_fernet.cache_clear()


def cipher() -> MultiFernet:
    return _multi_fernet(get_settings().resolve_encryption_key())


def encrypt(plaintext: str) -> str:
    return cipher().encrypt(plaintext.encode()).decode()


def decrypt(token: str, *, record: str) -> str:
    try:
        return cipher().decrypt(token.encode()).decode()
    except (InvalidToken, UnicodeError):
        raise DecryptionError(record) from None


def reencrypt(token: str, *, record: str) -> str:
    """The same secret under the newest key (what rotate-keys stores)."""
    try:
        return cipher().rotate(token.encode()).decode()
    except (InvalidToken, UnicodeError):
        raise DecryptionError(record) from None
