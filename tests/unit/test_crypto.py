"""Secrets at rest (crypto.py): Fernet under ENCRYPTION_KEY, newest key first, errors that name
the record and never a key, and the registry of encrypted columns that rotate-keys walks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from sqlmodel import SQLModel

import remediation_app.models  # noqa: F401  (registers every table and its encrypted columns)
from remediation_app import crypto
from remediation_app.settings import get_settings

KEY_A, KEY_B, KEY_C = Fernet.generate_key().decode(), Fernet.generate_key().decode(), Fernet.generate_key().decode()


@pytest.fixture
def use_keys(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Callable[[str | None], None]]:
    def apply(value: str | None) -> None:
        if value is None:
            monkeypatch.delenv("ENCRYPTION_KEY", raising=False)
        else:
            monkeypatch.setenv("ENCRYPTION_KEY", value)
        get_settings.cache_clear()
        crypto.clear_cache()

    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    yield apply
    get_settings.cache_clear()
    crypto.clear_cache()


def test_round_trip_and_the_ciphertext_hides_the_value(use_keys: Callable[[str | None], None]) -> None:
    use_keys(KEY_A)
    token = crypto.encrypt("hunter2-the-secret")
    assert "hunter2" not in token
    assert crypto.encrypt("hunter2-the-secret") != token  # a fresh IV every time
    assert crypto.decrypt(token, record="r") == "hunter2-the-secret"
    assert Fernet(KEY_A.encode()).decrypt(token.encode()) == b"hunter2-the-secret"


def test_the_newest_key_encrypts_and_older_ones_still_open(use_keys: Callable[[str | None], None]) -> None:
    use_keys(KEY_A)
    old = crypto.encrypt("old")
    use_keys(f"{KEY_B}, {KEY_A}")  # spaces around the comma are fine
    assert crypto.decrypt(old, record="r") == "old"
    new = crypto.encrypt("new")
    assert Fernet(KEY_B.encode()).decrypt(new.encode()) == b"new"
    rotated = crypto.reencrypt(old, record="r")
    assert Fernet(KEY_B.encode()).decrypt(rotated.encode()) == b"old"
    use_keys(KEY_B)
    assert crypto.decrypt(rotated, record="r") == "old"
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(old, record="r")


def test_an_unknown_key_names_the_record_and_never_a_key(use_keys: Callable[[str | None], None]) -> None:
    use_keys(f"{KEY_B},{KEY_A}")
    foreign = Fernet(KEY_C.encode()).encrypt(b"value").decode()
    record = crypto.record_name("app_secrets", 42, "app secret 'webhook_token'")
    for call in (crypto.decrypt, crypto.reencrypt):
        with pytest.raises(crypto.DecryptionError) as caught:
            call(foreign, record=record)
        message = str(caught.value)
        assert "app_secrets id=42" in message and caught.value.record == record
        for secret in (KEY_A, KEY_B, KEY_C, "value", foreign):
            assert secret not in message


@pytest.mark.parametrize("garbage", ["", "not-a-token", "gAAAAA", "é"])
def test_garbage_ciphertext_is_a_decryption_error(use_keys: Callable[[str | None], None], garbage: str) -> None:
    use_keys(KEY_A)
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(garbage, record="t id=1")


@pytest.mark.parametrize("value", ["not-a-fernet-key", f"{KEY_A},short", ",", " "])
def test_a_bad_encryption_key_is_refused_without_showing_it(use_keys: Callable[[str | None], None], value: str) -> None:
    use_keys(value)
    with pytest.raises(crypto.CryptoConfigError) as caught:
        crypto.encrypt("x")
    for shown in (KEY_A, "short", "not-a-fernet"):
        assert shown not in str(caught.value)


def test_without_encryption_key_a_generated_one_is_kept(use_keys: Callable[[str | None], None]) -> None:
    use_keys(None)
    token = crypto.encrypt("kept")
    key_file = get_settings().data_dir / "encryption_key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    crypto.clear_cache()
    get_settings.cache_clear()
    assert crypto.decrypt(token, record="r") == "kept"  # the next start reads the same key
    assert Fernet(key_file.read_text().strip().encode()).decrypt(token.encode()) == b"kept"


def test_every_ciphertext_column_is_registered_for_rotation() -> None:
    """A new table with a secret column must register it, or rotate-keys would leave it behind."""
    registered = {(e.table.name, e.column) for e in crypto.ENCRYPTED_COLUMNS}
    assert ("app_secrets", "ciphertext") in registered
    secret_like = {
        (table.name, column.name)
        for table in SQLModel.metadata.tables.values()
        for column in table.columns
        if any(word in column.name for word in ("cipher", "encrypted", "secret", "api_key", "private_key"))
    }
    assert secret_like <= registered, f"not registered in crypto.ENCRYPTED_COLUMNS: {secret_like - registered}"
    for entry in crypto.ENCRYPTED_COLUMNS:
        assert entry.table.c[entry.pk].primary_key and entry.label


def test_registering_is_idempotent_and_checks_the_names() -> None:
    table = SQLModel.metadata.tables["app_secrets"]
    before = list(crypto.ENCRYPTED_COLUMNS)
    crypto.register_encrypted_column(table, pk="id", column="ciphertext", label="again")
    assert before == crypto.ENCRYPTED_COLUMNS
    with pytest.raises(KeyError):
        crypto.register_encrypted_column(table, pk="id", column="cipher_text", label="misspelt")
    scratch = sa.Table("scratch_secrets", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True))
    with pytest.raises(KeyError):
        crypto.register_encrypted_column(scratch, pk="id", column="ciphertext", label="missing")
    assert before == crypto.ENCRYPTED_COLUMNS
