"""A real OpenSSH sshd on a loopback high port, for terminal tests and benchmarks.

Generated host key and client key; the login user is the user running the tests (root in CI: sshd
then needs /run/sshd, which is created). Only that client key is authorized, through a private
AuthorizedKeysFile; nothing outside the temporary directory is touched.

    with Sshd(tmp_path) as sshd:
        sshd.port, sshd.username, sshd.client_key (OpenSSH private key text), sshd.host_key_fingerprint
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import asyncssh

SSHD = "/usr/sbin/sshd"
HOST = "127.0.0.1"


def sshd_available() -> bool:
    return os.path.exists(SSHD) and shutil.which("ssh-keygen") is not None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def new_key() -> asyncssh.SSHKey:
    return asyncssh.generate_private_key("ssh-ed25519")


def private_text(key: asyncssh.SSHKey) -> str:
    return key.export_private_key().decode()


def public_line(key: asyncssh.SSHKey) -> str:
    return key.export_public_key().decode().strip()


class Sshd:
    def __init__(self, directory: Path, *, password_auth: bool = False) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = _free_port()
        self.username = getpass.getuser()
        self.host = HOST
        self.password_auth = password_auth
        self._proc: subprocess.Popen[bytes] | None = None
        self.host_key = new_key()
        self.client = new_key()
        self.host_key_path = self.dir / "ssh_host_ed25519_key"
        self.host_key_path.write_text(private_text(self.host_key))
        self.host_key_path.chmod(0o600)
        self.authorized = self.dir / "authorized_keys"
        self.authorized.write_text(public_line(self.client) + "\n")
        self.authorized.chmod(0o600)
        self.log = self.dir / "sshd.log"

    @property
    def client_key(self) -> str:
        return private_text(self.client)

    @property
    def host_key_line(self) -> str:
        return public_line(self.host_key)

    @property
    def host_key_fingerprint(self) -> str:
        return str(self.host_key.get_fingerprint("sha256"))

    def _config(self) -> Path:
        config = self.dir / "sshd_config"
        config.write_text(
            "\n".join(
                [
                    f"Port {self.port}",
                    f"ListenAddress {HOST}",
                    f"HostKey {self.host_key_path}",
                    f"PidFile {self.dir / 'sshd.pid'}",
                    f"AuthorizedKeysFile {self.authorized}",
                    "PubkeyAuthentication yes",
                    f"PasswordAuthentication {'yes' if self.password_auth else 'no'}",
                    "KbdInteractiveAuthentication no",
                    "PermitRootLogin prohibit-password",
                    "UsePAM no",
                    "StrictModes no",
                    "PrintMotd no",
                    "PrintLastLog no",
                    "AllowTcpForwarding no",
                    "X11Forwarding no",
                    "LogLevel ERROR",
                    "MaxStartups 100:30:200",
                    "MaxSessions 50",
                    # A clean, fast shell for tests: no rc files, a fixed prompt.
                    "SetEnv PS1=$",
                ]
            )
            + "\n"
        )
        return config

    def start(self, timeout: float = 10.0) -> Sshd:
        if os.geteuid() == 0:
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        config = self._config()
        self._proc = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=self.log.open("wb"),
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"sshd exited: {self.log.read_text()[-2000:]}")
            try:
                with socket.create_connection((HOST, self.port), timeout=0.5) as conn:
                    if conn.recv(4).startswith(b"SSH-"):
                        return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"sshd did not start: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(5)
        self._proc = None

    def __enter__(self) -> Sshd:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
