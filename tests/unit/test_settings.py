"""Settings: generated secrets and database URLs (remediation_app/settings.py)."""

from __future__ import annotations

import base64
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from remediation_app.settings import Settings, async_database_url, get_settings, normalize_database_url


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for name in ("SECRET_KEY", "ENCRYPTION_KEY", "DATABASE_URL", "DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "nested" / "data"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize(("method", "filename"), [("secret_key", "secret_key"), ("encryption_key", "encryption_key")])
def test_secret_is_generated_into_data_dir_with_mode_0600_and_reused(
    method: str, filename: str, tmp_path: Path
) -> None:
    old_umask = os.umask(0)  # the file must be private whatever the umask
    try:
        first = getattr(Settings(), f"resolve_{method}")()
    finally:
        os.umask(old_umask)
    path = tmp_path / "nested" / "data" / filename
    assert path.read_text().strip() == first
    assert mode(path) == 0o600
    assert len(first) >= 32
    assert getattr(Settings(), f"resolve_{method}")() == first  # a new process reads the same secret
    assert getattr(get_settings(), f"resolve_{method}")() == first


def test_secret_key_and_encryption_key_differ(tmp_path: Path) -> None:
    s = Settings()
    assert s.resolve_secret_key() != s.resolve_encryption_key()


def test_encryption_key_is_32_urlsafe_base64_bytes() -> None:
    assert len(base64.urlsafe_b64decode(Settings().resolve_encryption_key())) == 32


def test_generated_secrets_differ_per_data_dir(tmp_path: Path) -> None:
    one = Settings(data_dir=tmp_path / "one").resolve_secret_key()
    two = Settings(data_dir=tmp_path / "two").resolve_secret_key()
    assert one != two


@pytest.mark.parametrize(("env", "method"), [("SECRET_KEY", "secret_key"), ("ENCRYPTION_KEY", "encryption_key")])
def test_environment_value_wins(env: str, method: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    generated = getattr(Settings(), f"resolve_{method}")()
    monkeypatch.setenv(env, "from-the-environment")
    assert getattr(Settings(), f"resolve_{method}")() == "from-the-environment"
    assert (tmp_path / "nested" / "data" / method).read_text().strip() == generated  # left alone


def test_environment_value_means_no_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SECRET_KEY", "given")
    assert Settings().resolve_secret_key() == "given"
    assert not (tmp_path / "nested" / "data" / "secret_key").exists()


def test_empty_environment_value_means_generate(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SECRET_KEY", "")
    key = Settings().resolve_secret_key()
    assert key and key == (tmp_path / "nested" / "data" / "secret_key").read_text().strip()


def test_an_empty_secret_file_is_an_error_not_an_empty_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("remediation_app.settings.time.sleep", lambda _s: None)  # it waits for a writer first
    path = tmp_path / "nested" / "data" / "secret_key"
    path.parent.mkdir(parents=True)
    path.write_text("")
    with pytest.raises(RuntimeError, match="is empty"):
        Settings().resolve_secret_key()


@pytest.mark.parametrize(
    ("given", "normalized"),
    [
        ("postgres://u:p@db:5432/app", "postgresql+psycopg://u:p@db:5432/app"),
        ("postgresql://u:p@db/app?sslmode=require", "postgresql+psycopg://u:p@db/app?sslmode=require"),
        ("postgresql+psycopg://u@db/app", "postgresql+psycopg://u@db/app"),
        ("sqlite:///data/remediation.db", "sqlite:///data/remediation.db"),
    ],
)
def test_database_url_is_normalized(given: str, normalized: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert normalize_database_url(given) == normalized
    monkeypatch.setenv("DATABASE_URL", given)
    assert Settings().database_url == normalized


def test_async_database_url() -> None:
    assert async_database_url("sqlite:////tmp/x.db") == "sqlite+aiosqlite:////tmp/x.db"
    assert async_database_url("postgresql+psycopg://u@db/app") == "postgresql+psycopg://u@db/app"
    assert Settings(database_url="postgres://u@db/app").async_database_url == "postgresql+psycopg://u@db/app"
