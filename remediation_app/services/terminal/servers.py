"""SSH targets: stored with encrypted, write-only credentials and a pinned host key.

A server's host key is fetched, shown as its SHA256 fingerprint, and stored only when an admin
accepts that fingerprint; until then nobody can open it, and afterwards a different key refuses
the connection.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any

import asyncssh
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.crypto import DecryptionError, decrypt, encrypt, record_name
from remediation_app.models import Role, SSHServer, User, utcnow
from remediation_app.services import audit
from remediation_app.services.records import FieldError, Records, columns, isoformat

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
HOST_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$|^\[?[0-9A-Fa-f:.]+\]?$")
USER_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")
ENV_RE = re.compile(r"^[A-Za-z0-9._-]{0,64}$")
SECRET_MAX = 16_384
SECRETS = ("private_key", "passphrase", "password")  # each stored encrypted in `<secret>_ciphertext`
FETCH_TIMEOUT_S = 10.0


class ServerError(FieldError):
    """A server that cannot be saved or reached; names the field where there is one."""


@dataclass
class ServerInput:
    """Form fields. Secrets: None keeps what is stored, "" removes it, text replaces it."""

    name: str
    host: str
    username: str
    port: int = 22
    auth_method: str = "key"
    private_key: str | None = None
    passphrase: str | None = None
    password: str | None = None
    environment: str = ""
    allowed_roles: tuple[str, ...] = (Role.ADMIN.value,)


def _check_secret(field: str, value: str | None) -> None:
    if value is not None and (len(value) > SECRET_MAX or "\x00" in value):
        raise ServerError(field, f"at most {SECRET_MAX} characters, no NUL")


def _validate(data: ServerInput) -> None:
    if not NAME_RE.match(data.name):
        raise ServerError("name", "1-100 letters, digits, '.', '_' or '-'")
    if not HOST_RE.match(data.host):
        raise ServerError("host", "a host name or an IP address")
    if not 1 <= data.port <= 65535:
        raise ServerError("port", "between 1 and 65535")
    if not USER_RE.match(data.username):
        raise ServerError("username", "a user name (letters, digits, '_', '.', '-')")
    if data.auth_method not in ("key", "password"):
        raise ServerError("auth_method", "key or password")
    if not ENV_RE.match(data.environment):
        raise ServerError("environment", "up to 64 letters, digits, '.', '_' or '-'")
    roles = set(data.allowed_roles)
    if not roles or not roles <= {r.value for r in Role}:
        raise ServerError("allowed_roles", "admin, user, or both")
    for field in SECRETS:
        _check_secret(field, getattr(data, field))


async def _check_key(data: ServerInput, row: SSHServer | None) -> None:
    """The key that will be stored opens with the passphrase that will be stored: a new key, or a
    new passphrase for the stored key (decrypted here). bcrypt-pbkdf takes a quarter second or more,
    so the import runs off the event loop."""
    if data.private_key is None and data.passphrase is None:
        return
    stored = credentials(row) if row is not None else Credentials()
    key = stored.private_key if data.private_key is None else data.private_key
    passphrase = stored.passphrase if data.passphrase is None else data.passphrase
    if not key:
        return
    # The field the admin changed: the key (with or without a passphrase) or only the passphrase.
    field, which = ("private_key", "this private key") if data.private_key else ("passphrase", "the stored private key")
    try:
        await asyncio.to_thread(asyncssh.import_private_key, key, passphrase or None)
    except asyncssh.KeyEncryptionError:
        raise ServerError(field, f"{which} does not open with the passphrase (wrong passphrase?)") from None
    except (asyncssh.KeyImportError, ValueError) as exc:
        if field == "passphrase":
            needs = "needs a passphrase" if not passphrase else f"does not open ({exc})"
            raise ServerError(field, f"{which} {needs}") from None
        raise ServerError(field, f"not a usable private key ({exc})") from None


def _record(row: SSHServer, what: str) -> str:
    return record_name(SSHServer.__tablename__, row.id, f"SSH server {row.name!r} {what}")


@dataclass(frozen=True)
class Credentials:
    private_key: str = ""
    passphrase: str = ""
    password: str = ""

    def __repr__(self) -> str:
        return "Credentials(...)"


def credentials(row: SSHServer) -> Credentials:
    """The server's secrets, decrypted (DecryptionError names the record)."""

    def open_(token: str, what: str) -> str:
        return decrypt(token, record=_record(row, what)) if token else ""

    return Credentials(
        private_key=open_(row.private_key_ciphertext, "private key"),
        passphrase=open_(row.passphrase_ciphertext, "key passphrase"),
        password=open_(row.password_ciphertext, "password"),
    )


SERVERS = Records(SSHServer, "server", ServerError, action="ssh_server")


async def list_servers(session: AsyncSession) -> list[SSHServer]:
    return await SERVERS.all(session)


def may_open(row: SSHServer, user: User) -> bool:
    return user.role == Role.ADMIN.value or user.role in row.allowed_roles


async def servers_for(session: AsyncSession, user: User) -> list[SSHServer]:
    return [row for row in await list_servers(session) if may_open(row, user)]


def match_instance(rows: list[SSHServer], instance: str) -> SSHServer | None:
    """The server an alert's `instance` label points at: host (without the port) equal to a
    server's host or name, case-insensitively."""
    host = instance.strip().lower()
    if host.startswith("[") and "]" in host:
        host = host[1 : host.index("]")]
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    if not host:
        return None
    return next((r for r in rows if host in (r.host.lower(), r.name.lower())), None)


async def save_server(
    session: AsyncSession, data: ServerInput, *, server_id: int | None, actor: User, address: str = ""
) -> SSHServer:
    """Create or update (audited; secrets redacted). Changing host or port forgets the pinned key."""
    data.name, data.host, data.username = data.name.strip(), data.host.strip(), data.username.strip()
    data.environment = data.environment.strip()
    _validate(data)
    if server_id is None:
        row = SSHServer(name=data.name, host=data.host, username=data.username, created_at=utcnow())
    else:
        row = await SERVERS.stored(session, server_id)
    try:
        await _check_key(data, row if server_id is not None else None)
    except DecryptionError as exc:
        raise ServerError("private_key", f"{exc}; enter the private key again") from None
    await SERVERS.check_name(session, data.name, server_id)
    if server_id is not None and (row.host, row.port) != (data.host, data.port):
        row.host_key = row.host_key_fingerprint = row.host_key_accepted_by = ""
        row.host_key_accepted_at = None
    changes = {}
    for field in SECRETS:
        value = getattr(data, field)
        if value is not None:
            setattr(row, f"{field}_ciphertext", encrypt(value) if value else "")
            changes[field] = "set" if value else "removed"
    row.host, row.port, row.username, row.name = data.host, data.port, data.username, data.name
    row.auth_method, row.environment = data.auth_method, data.environment
    row.allowed_roles = sorted(set(data.allowed_roles))
    row.updated_at, row.updated_by = utcnow(), actor.username
    if row.auth_method == "key" and not row.private_key_ciphertext:
        raise ServerError("private_key", "key authentication needs a private key")
    if row.auth_method == "password" and not row.password_ciphertext:
        raise ServerError("password", "password authentication needs a password")
    session.add(row)
    await session.flush()
    # Only what the audit log can show in full ("*key*"/"*pass*" fields would be redacted anyway).
    details = {
        **columns(row, "host", "port", "username", "environment", "auth_method"),
        "allowed_roles": list(row.allowed_roles),
        "changed": [f"{field.replace('_', ' ')} {change}" for field, change in changes.items()],
    }
    SERVERS.audit_saved(session, row, created=server_id is None, actor=actor, address=address, details=details)
    return row


async def delete_server(session: AsyncSession, server_id: int, *, actor: User, address: str = "") -> None:
    await SERVERS.delete(session, server_id, actor=actor, address=address)


@dataclass(frozen=True)
class HostKey:
    line: str  # OpenSSH public key line
    fingerprint: str  # SHA256:...
    algorithm: str


async def fetch_host_key(host: str, port: int) -> HostKey:
    """The key the server presents now (no authentication). ServerError with the reason if unreachable."""
    try:
        async with asyncio.timeout(FETCH_TIMEOUT_S):
            # config=None: the service account's ~/.ssh/config must not redirect the fetch.
            key = await asyncssh.get_server_host_key(host, port, config=None)
    except TimeoutError:
        raise ServerError("", f"no answer from {host}:{port} within {FETCH_TIMEOUT_S:g} s") from None
    except (OSError, asyncssh.Error) as exc:
        raise ServerError("", f"cannot reach {host}:{port}: {exc}") from None
    if key is None:
        raise ServerError("", f"{host}:{port} presented no host key")
    return HostKey(
        line=key.export_public_key().decode().strip(),
        fingerprint=key.get_fingerprint("sha256"),
        algorithm=key.get_algorithm(),
    )


async def accept_host_key(
    session: AsyncSession, server_id: int, fingerprint: str, *, actor: User, address: str = ""
) -> SSHServer:
    """Pin the key the server presents now, if its fingerprint is the one the admin was shown."""
    row = await SERVERS.stored(session, server_id)
    key = await fetch_host_key(row.host, row.port)

    def audited(success: bool, **details: str) -> None:
        audit.record(
            session,
            action="ssh_server.host_key",
            actor=actor,
            target=row.name,
            address=address,
            success=success,
            details=details,
        )

    if key.fingerprint != fingerprint:
        audited(False, shown=fingerprint[:128], presented=key.fingerprint)
        raise ServerError("", f"the server now presents {key.fingerprint}, not the {fingerprint[:128]} you accepted")
    audited(True, fingerprint=key.fingerprint, previous=row.host_key_fingerprint)
    row.host_key, row.host_key_fingerprint = key.line, key.fingerprint
    row.host_key_accepted_by, row.host_key_accepted_at = actor.username, utcnow()
    session.add(row)
    return row


def server_public(row: SSHServer) -> dict[str, Any]:
    """The browser's view: never a credential, only whether one is stored."""
    return {
        **columns(row, "id", "name", "host", "port", "username", "auth_method", "environment"),
        **{f"has_{field}": bool(getattr(row, f"{field}_ciphertext")) for field in SECRETS},
        "allowed_roles": list(row.allowed_roles),
        **columns(row, "host_key_fingerprint", "host_key_accepted_by"),
        "host_key_accepted_at": isoformat(row.host_key_accepted_at),
    }
