"""SSH servers, terminal tickets, terminal sessions and their encrypted recordings."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Column, Field, SQLModel

from remediation_app.crypto import register_encrypted_column
from remediation_app.models.base import SHORT, ts_field


class SSHServer(SQLModel, table=True):
    """A host users may open a terminal to. Credentials are encrypted and write-only; the host key is
    pinned (empty until an admin accepts the fingerprint: no connection before that)."""

    __tablename__ = "ssh_servers"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, sa_column_kwargs={"unique": True})
    host: str = Field(max_length=SHORT)
    port: int = 22
    username: str = Field(max_length=64)
    auth_method: str = Field(default="key", max_length=16)  # key or password
    private_key_ciphertext: str = Field(default="", sa_column=Column(sa.Text(), nullable=False, server_default=""))
    passphrase_ciphertext: str = Field(default="", sa_column=Column(sa.Text(), nullable=False, server_default=""))
    password_ciphertext: str = Field(default="", sa_column=Column(sa.Text(), nullable=False, server_default=""))
    environment: str = Field(default="", max_length=64)
    # Roles that may open it: ["admin"] or ["admin", "user"].
    allowed_roles: list[str] = Field(default_factory=list, sa_column=Column(sa.JSON(), nullable=False))
    # The accepted host key as an OpenSSH public key line, and its SHA256 fingerprint.
    host_key: str = Field(default="", sa_column=Column(sa.Text(), nullable=False, server_default=""))
    host_key_fingerprint: str = Field(default="", max_length=128)
    host_key_accepted_by: str = Field(default="", max_length=150)
    host_key_accepted_at: datetime | None = ts_field(nullable=True)
    created_at: datetime = ts_field()
    updated_at: datetime = ts_field()
    updated_by: str = Field(default="", max_length=150)


for _column, _label in (
    ("private_key_ciphertext", "SSH private key"),
    ("passphrase_ciphertext", "SSH key passphrase"),
    ("password_ciphertext", "SSH password"),
):
    register_encrypted_column(SSHServer.__table__, pk="id", column=_column, label=_label)  # type: ignore[attr-defined]


class TerminalTicket(SQLModel, table=True):
    """A one-time, short-lived ticket that opens one terminal WebSocket (only its hash is stored)."""

    __tablename__ = "terminal_tickets"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    user_id: int
    # The login (the user's token version) that asked for it: a logout or any revocation kills it.
    token_version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    server_id: int
    alert_id: int | None = None
    expires_at: datetime = ts_field(index=True)
    used_at: datetime | None = ts_field(nullable=True)
    created_at: datetime = ts_field()


class TerminalSession(SQLModel, table=True):
    """One terminal session: who, where, when, how much, how it ended. Its recording is in chunks."""

    __tablename__ = "terminal_sessions"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int | None = Field(default=None, index=True)
    username: str = Field(default="", max_length=150)
    server_id: int | None = None
    server_name: str = Field(default="", max_length=100)
    alert_id: int | None = None
    started_at: datetime = ts_field(index=True)
    ended_at: datetime | None = ts_field(nullable=True)
    bytes_in: int = 0
    bytes_out: int = 0
    exit_status: int | None = None
    close_reason: str = Field(default="", sa_column=Column(sa.Text(), nullable=False, server_default=""))
    recording_bytes: int = 0
    recording_truncated: bool = False
    # Which process runs it, and when it last said so: an open session whose heartbeat is old was cut
    # off (the process died) and no longer counts against the user's limit.
    worker: str = Field(default="", max_length=SHORT)
    heartbeat_at: datetime | None = ts_field(nullable=True)


class TerminalRecordingChunk(SQLModel, table=True):
    """A piece of a session's asciicast v2 recording (event lines), encrypted at rest."""

    __tablename__ = "terminal_recording_chunks"
    __table_args__ = (sa.UniqueConstraint("session_id", "seq", name="uq_terminal_recording_chunks_session_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    session_id: int = Field(
        sa_column=Column(sa.Integer(), sa.ForeignKey("terminal_sessions.id", ondelete="CASCADE"), nullable=False)
    )
    seq: int
    ciphertext: str = Field(sa_column=Column(sa.Text(), nullable=False))


register_encrypted_column(
    TerminalRecordingChunk.__table__,  # type: ignore[attr-defined]
    pk="id",
    column="ciphertext",
    label="terminal recording",
)
