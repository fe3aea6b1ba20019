"""Accounts, login attempts (for throttling) and the clients an account has logged in from."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Column, Field, SQLModel

from remediation_app.models.base import ts_field


class Role(enum.StrEnum):
    ADMIN = "admin"
    USER = "user"


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=150, sa_column_kwargs={"unique": True})
    password_hash: str = Field(max_length=512)
    role: str = Field(default=Role.USER.value, max_length=16)
    is_active: bool = True
    token_version: int = 0
    created_at: datetime = ts_field()
    updated_at: datetime = ts_field()
    last_login_at: datetime | None = ts_field(nullable=True)


class LoginAttempt(SQLModel, table=True):
    """Recent login attempts, for throttling by account, by known client and by address (pruned after
    the window; docs/security.md)."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        sa.Index("ix_login_attempts_username_at", "username", "at"),
        sa.Index("ix_login_attempts_address_at", "address", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = ts_field()
    username: str = Field(max_length=150)
    address: str = Field(max_length=64)
    success: bool = False
    # "" from a client unknown to the account, else which known client: "device:<sha256 of its
    # cookie>" or "address:<address>" (a known client's failures count only against itself).
    known_client: str = Field(default="", max_length=80, sa_column_kwargs={"server_default": ""})


class KnownClientKind(enum.StrEnum):
    DEVICE = "device"
    ADDRESS = "address"


class KnownClient(SQLModel, table=True):
    """A client that logged in to an account successfully: a browser's device cookie (only its
    SHA-256 is stored) or an address. Login throttling keeps it apart from strangers; pruned once
    LOGIN_DEVICE_DAYS / LOGIN_KNOWN_ADDRESS_DAYS have passed since its last successful login."""

    __tablename__ = "known_clients"
    __table_args__ = (
        sa.UniqueConstraint("user_id", "kind", "value", name="uq_known_clients_user_kind_value"),
        sa.Index("ix_known_clients_kind_value", "kind", "value"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(sa_column=Column(sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False))
    kind: str = Field(max_length=16)
    value: str = Field(max_length=64)
    created_at: datetime = ts_field()
    last_success_at: datetime = ts_field(index=True)
