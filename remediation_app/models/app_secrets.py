"""Secrets an admin sets from the UI, encrypted at rest."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Column, Field, SQLModel

from remediation_app.crypto import register_encrypted_column
from remediation_app.models.base import ts_field


class AppSecret(SQLModel, table=True):
    """A secret an admin sets from the UI (e.g. the webhook's extra bearer token), encrypted at rest."""

    __tablename__ = "app_secrets"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    # Fernet token (crypto.py); re-encrypted by `python -m remediation_app rotate-keys`.
    ciphertext: str = Field(sa_column=Column(sa.Text(), nullable=False))
    updated_at: datetime = ts_field()
    # The username (not a foreign key: the audit trail survives a deleted user).
    updated_by: str = Field(default="", max_length=150)


register_encrypted_column(AppSecret.__table__, pk="id", column="ciphertext", label="app secret")  # type: ignore[attr-defined]
