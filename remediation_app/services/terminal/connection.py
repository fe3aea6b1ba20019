"""An SSH connection to a stored server: the pinned host key only, the stored credentials, and a
refusal the user can read when it does not open."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncssh

from remediation_app.crypto import DecryptionError
from remediation_app.models import SSHServer
from remediation_app.services.terminal.servers import credentials
from remediation_app.services.terminal.tickets import TerminalRefused

CONNECT_TIMEOUT_S = 15.0


def _known_hosts(server: SSHServer) -> Any:
    """Trust exactly the pinned key (never the first key a host presents)."""
    key = asyncssh.import_public_key(server.host_key)
    return ([key], [], [])


class _PinnedKeyClient(asyncssh.SSHClient):
    """Remembers the host key a server presented when it was not the pinned one (AsyncSSH asks the
    client about a key outside known_hosts; the answer stays no), so the refusal can name it."""

    def __init__(self) -> None:
        self.presented = ""

    def validate_host_public_key(self, host: str, addr: str, port: int, key: asyncssh.SSHKey) -> bool:
        self.presented = key.get_fingerprint("sha256")
        return False


def _pinned_fingerprint(server: SSHServer) -> str:
    try:
        return str(asyncssh.import_public_key(server.host_key).get_fingerprint("sha256"))
    except (asyncssh.KeyImportError, ValueError):
        return server.host_key_fingerprint


def _refusal_of(exc: BaseException, server: SSHServer, presented: str = "") -> TerminalRefused:
    if isinstance(exc, asyncssh.HostKeyNotVerifiable):
        return TerminalRefused(
            f"{server.name} presented the host key {presented or '(unknown)'}, not the accepted "
            f"{_pinned_fingerprint(server)}: connection refused (if the server was reinstalled, an admin must "
            "fetch and accept the new key)",
            "host_key_changed",
        )
    if isinstance(exc, asyncssh.PermissionDenied):
        return TerminalRefused(f"{server.name} refused the login for {server.username}: wrong credentials", "auth")
    if isinstance(exc, TimeoutError):
        return TerminalRefused(f"no answer from {server.host}:{server.port}", "unreachable")
    if isinstance(exc, OSError):
        return TerminalRefused(f"cannot reach {server.host}:{server.port}: {exc.strerror or exc}", "unreachable")
    if isinstance(exc, DecryptionError):
        return TerminalRefused(f"{exc}; an admin must enter the credentials again", "decrypt")
    if isinstance(exc, asyncssh.Error):
        return TerminalRefused(f"SSH error from {server.name}: {exc.reason}", "ssh")
    return TerminalRefused(f"cannot open {server.name}: {type(exc).__name__}", "error")


async def connect(server: SSHServer) -> asyncssh.SSHClientConnection:
    """An SSH connection with the pinned host key and the stored credentials; TerminalRefused if not."""
    client = _PinnedKeyClient()
    try:
        secret = credentials(server)
        options: dict[str, Any] = {
            "username": server.username,
            "known_hosts": _known_hosts(server),
            "agent_path": None,
            "client_keys": None,
            "password": None,
            "config": None,
            "x509_trusted_certs": None,
            "preferred_auth": "publickey" if server.auth_method == "key" else "keyboard-interactive,password",
            "client_factory": lambda: client,
        }
        if server.auth_method == "key":
            # bcrypt-pbkdf of a passphrase-protected key takes a quarter second or more: off the loop.
            key = await asyncio.to_thread(asyncssh.import_private_key, secret.private_key, secret.passphrase or None)
            options["client_keys"] = [key]
        else:
            options["password"] = secret.password
        async with asyncio.timeout(CONNECT_TIMEOUT_S):
            return await asyncssh.connect(server.host, server.port, **options)
    except asyncssh.KeyEncryptionError:
        raise TerminalRefused(
            f"the stored private key of {server.name} does not open with its passphrase (an admin fixes that)", "key"
        ) from None
    except (OSError, TimeoutError, asyncssh.Error, DecryptionError, asyncssh.KeyImportError, ValueError) as exc:
        raise _refusal_of(exc, server, client.presented) from None
