"""Secrets at rest: Fernet with key rotation (ENCRYPTION_KEY holds one or more keys, newest first)."""

from __future__ import annotations

import functools

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from remediation_app.settings import get_settings


class CryptoConfigError(ValueError):
    """ENCRYPTION_KEY is not a comma-separated list of Fernet keys (the message never shows a key)."""


class DecryptionError(Exception):
    """A stored secret that none of the configured keys opens; names the record, never a key."""

    def __init__(self, record: str) -> None:
        super().__init__(f"cannot decrypt {record}: encrypted with a key that is not in ENCRYPTION_KEY")
        self.record = record


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


def cipher() -> MultiFernet:
    return _multi_fernet(get_settings().resolve_encryption_key())


def encrypt(plaintext: str) -> str:
    return cipher().encrypt(plaintext.encode()).decode()


def decrypt(token: str, *, record: str) -> str:
    try:
        return cipher().decrypt(token.encode()).decode()
    except InvalidToken:
        raise DecryptionError(record) from None


def reencrypt(token: str, *, record: str) -> str:
    """The same secret under the newest key (what rotate-keys stores)."""
    try:
        return cipher().rotate(token.encode()).decode()
    except InvalidToken:
        raise DecryptionError(record) from None


def new_key() -> str:
    return Fernet.generate_key().decode()
