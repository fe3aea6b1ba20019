"""The terminal end to end against a real OpenSSH sshd on loopback: WebSocket (a real granian server)
-> AsyncSSH PTY -> sshd. Echo, resize, Ctrl-C, flow control, both ends closing, refusals, recording."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncssh
import pytest
import websockets
from websockets.asyncio.client import ClientConnection, connect

from remediation_app.services.terminal import recording
from remediation_app.services.terminal.bridge import HIGH_WATER, READ_SIZE
from tests.conftest import add_user, bearer_for, require
from tests.support.api_server import ApiServer
from tests.support.sshd import Sshd, new_key, private_text, sshd_available

pytestmark = [pytest.mark.anyio, pytest.mark.ssh]
WAIT_S = 15.0


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    require(sshd_available(), "OpenSSH sshd is not installed (make test-deps)")
    with Sshd(tmp_path_factory.mktemp("sshd")) as server:
        yield server


@pytest.fixture
def api(app_settings: str, tmp_path: Path) -> Iterator[ApiServer]:
    with ApiServer(log=tmp_path / "api.log") as server:
        yield server


async def add_server(client: Any, sshd: Sshd, **changes: Any) -> dict[str, Any]:
    body = {
        "name": "web-1",
        "host": sshd.host,
        "port": sshd.port,
        "username": sshd.username,
        "auth_method": "key",
        "private_key": sshd.client_key,
        "allowed_roles": ["admin", "user"],
        "environment": "test",
        **changes,
    }
    r = await client.post("/api/ssh-servers", json=body)
    assert r.status_code == 201, r.text
    server = r.json()
    fetched = await client.post(f"/api/ssh-servers/{server['id']}/host-key")
    assert fetched.status_code == 200 and fetched.json()["fingerprint"] == sshd.host_key_fingerprint
    accepted = await client.post(
        f"/api/ssh-servers/{server['id']}/host-key/accept", json={"fingerprint": fetched.json()["fingerprint"]}
    )
    assert accepted.status_code == 200, accepted.text
    return accepted.json()


class Term:
    """The browser's side of the protocol."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.out = bytearray()
        self.control: list[dict[str, Any]] = []

    async def send(self, **message: Any) -> None:
        await self.ws.send(json.dumps(message))

    async def type(self, text: str) -> None:
        await self.send(type="input", data=text)

    async def _next(self, *, ack: bool) -> None:
        try:
            frame = await self.ws.recv()
        except websockets.ConnectionClosed as closed:
            raise AssertionError(
                f"the server closed the terminal: {self.control}; output: {self.out[-500:]!r}"
            ) from closed
        if isinstance(frame, bytes):
            self.out += frame
            if ack:
                # The server may close right after its last output (the shell exited): nothing is
                # left to acknowledge then, and the frames it sent before closing are still read.
                with contextlib.suppress(websockets.ConnectionClosed):
                    await self.send(type="ack", bytes=len(frame))
        else:
            self.control.append(json.loads(frame))

    async def read_until(self, needle: str, *, timeout: float = WAIT_S, ack: bool = True) -> str:
        async with asyncio.timeout(timeout):
            while needle.encode() not in self.out:
                await self._next(ack=ack)
        return self.out.decode(errors="replace")

    async def control_message(self, kind: str, *, timeout: float = WAIT_S) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while not any(m["type"] == kind for m in self.control):
                await self._next(ack=True)
        return next(m for m in self.control if m["type"] == kind)


async def ticket_for(client: Any, server_id: int, headers: dict[str, str] | None = None, **extra: Any) -> str:
    r = await client.post("/api/terminal/tickets", json={"server_id": server_id, **extra}, headers=headers)
    assert r.status_code == 201, r.text
    return str(r.json()["ticket"])


async def open_ws(api: ApiServer, *, origin: str | None = None) -> ClientConnection:
    return await connect(api.ws_url + "/ws/terminal", origin=origin or api.url, max_size=2**22)  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def open_term(api: ApiServer, ticket: str, *, cols: int = 80, rows: int = 24) -> AsyncIterator[Term]:
    async with await open_ws(api) as ws:
        term = Term(ws)
        await term.send(type="auth", ticket=ticket, cols=cols, rows=rows)
        await term.control_message("ready")
        yield term


async def test_echo_resize_exit_and_the_recording(client, api, sshd, db):
    server = await add_server(client, sshd)
    ticket = await ticket_for(client, server["id"])
    async with open_term(api, ticket, cols=90, rows=20) as term:
        await term.type("stty size; echo hello-$((6*7))\r")
        await term.read_until("hello-42")
        assert "20 90" in term.out.decode()
        await term.send(type="resize", cols=120, rows=40)
        await term.type("stty size\r")
        await term.read_until("40 120")
        await term.type("exit 3\r")
        done = await term.control_message("exit")
        assert done["status"] == 3
    [row] = db.rows("SELECT * FROM terminal_sessions")
    assert row["exit_status"] == 3 and row["ended_at"] is not None and row["bytes_out"] > 0
    assert row["username"] == "test-admin" and row["server_name"] == "web-1"

    # The recording decrypts and replays the output that was shown; at rest it is ciphertext.
    chunks = db.rows("SELECT ciphertext FROM terminal_recording_chunks ORDER BY seq")
    assert chunks and all("hello-42" not in c["ciphertext"] for c in chunks)
    download = await client.get(f"/api/terminal/sessions/{row['id']}/recording")
    assert download.status_code == 200 and download.headers["content-type"].startswith("application/x-asciicast")
    header, events = recording.parse_events(download.text)
    assert header["version"] == 2 and (header["width"], header["height"]) == (90, 20)
    shown = "".join(e[2] for e in events if e[1] == "o")
    typed = "".join(e[2] for e in events if e[1] == "i")
    assert (
        "hello-42" in shown
        and "echo hello-$((6*7))" in typed
        and [int(x) for x in next(e[2] for e in events if e[1] == "r").split("x")] == [120, 40]
    )
    assert all(a[0] <= b[0] for a, b in itertools.pairwise(events))  # timing only goes forward
    actions = [
        r["action"] for r in db.rows("SELECT action FROM audit_events WHERE action LIKE 'terminal.%' ORDER BY id")
    ]
    assert actions == ["terminal.open", "terminal.close", "terminal.download"]


async def test_ctrl_c_stops_yes_and_output_is_flow_controlled(client, api, sshd):
    server = await add_server(client, sshd)
    async with open_term(api, await ticket_for(client, server["id"])) as term:
        await term.type("yes\r")
        # Without acknowledgements the server sends at most the high watermark (plus one read).
        with pytest.raises(TimeoutError):
            await term.read_until("never-appears", timeout=2, ack=False)
        assert HIGH_WATER < len(term.out) <= HIGH_WATER + READ_SIZE
        # Acknowledged, it flows again; Ctrl-C then stops it and the shell answers.
        await term.send(type="ack", bytes=len(term.out))
        before = len(term.out)
        async with asyncio.timeout(WAIT_S):
            while len(term.out) < before + 100_000:
                await term._next(ack=True)
        await term.type("\x03")
        await term.type("echo stopped-$((40+2))\r")
        await term.read_until("stopped-42")


async def test_closing_the_browser_ends_the_ssh_session(client, api, sshd, db):
    server = await add_server(client, sshd)
    async with open_term(api, await ticket_for(client, server["id"])) as term:
        await term.type("echo open\r")
        await term.read_until("open")
    # The socket is closed: the server records the end (wait on the record, checked as it is written).
    async with asyncio.timeout(WAIT_S):
        while not (rows := db.rows("SELECT * FROM terminal_sessions WHERE ended_at IS NOT NULL")):
            await asyncio.sleep(0.05)
    assert "browser closed" in rows[0]["close_reason"]


async def test_refusals_are_clear(client, anon, api, sshd, db):
    server = await add_server(client, sshd, allowed_roles=["admin"])
    # A role the server does not allow gets no ticket.
    user = bearer_for(await add_user("plain-user", "user"))
    refused = await anon.post("/api/terminal/tickets", json={"server_id": server["id"]}, headers=user)
    assert refused.status_code == 403 and "may not open" in refused.json()["error"]
    listing = await anon.get("/api/ssh-servers", headers=user)
    assert listing.json()["items"] == []

    async def outcome(ticket: str | None, origin: str | None = None) -> str:
        async with await open_ws(api, origin=origin) as ws:
            term = Term(ws)
            if ticket is not None:
                await term.send(type="auth", ticket=ticket)
            else:
                await term.send(type="hello")
            return str((await term.control_message("error"))["message"])

    ticket = await ticket_for(client, server["id"])
    async with open_term(api, ticket) as term:
        await term.type("exit\r")
        await term.control_message("exit")
    assert "already used" in await outcome(ticket)
    assert "no ticket" in await outcome(None)
    assert "invalid or expired" in await outcome("made-up-ticket")
    with pytest.raises(websockets.InvalidStatus) as foreign:
        await outcome(await ticket_for(client, server["id"]), origin="https://evil.example")
    assert foreign.value.response.status_code == 403

    # Wrong credentials: a key sshd does not know.
    stranger = await client.post(
        "/api/ssh-servers",
        json={
            "name": "wrong-key",
            "host": sshd.host,
            "port": sshd.port,
            "username": sshd.username,
            "private_key": private_text(new_key()),
        },
    )
    wrong = stranger.json()["id"]
    fp = (await client.post(f"/api/ssh-servers/{wrong}/host-key")).json()["fingerprint"]
    await client.post(f"/api/ssh-servers/{wrong}/host-key/accept", json={"fingerprint": fp})
    assert "wrong credentials" in await outcome(await ticket_for(client, wrong))

    # A changed host key: the pinned one is not what the server presents.
    other = new_key().export_public_key().decode().strip()
    db.execute("UPDATE ssh_servers SET host_key = :k WHERE id = :id", k=other, id=server["id"])
    message = await outcome(await ticket_for(client, server["id"]))
    # Both fingerprints are named: the one pinned and the one the server presented.
    pinned = asyncssh.import_public_key(other).get_fingerprint("sha256")
    assert f"presented the host key {sshd.host_key_fingerprint}, not the accepted {pinned}" in message
    assert "Traceback" not in message
    codes = [
        r["details"]["reason"] if isinstance(r["details"], dict) else json.loads(r["details"])["reason"]
        for r in db.rows("SELECT details FROM audit_events WHERE action = 'terminal.refused' ORDER BY id")
    ]
    assert codes == ["role", "ticket_reused", "no_ticket", "bad_ticket", "auth", "host_key_changed"]


async def test_a_server_without_an_accepted_key_cannot_be_opened(client, sshd):
    r = await client.post(
        "/api/ssh-servers",
        json={"name": "new", "host": sshd.host, "port": sshd.port, "username": "x", "private_key": sshd.client_key},
    )
    refused = await client.post("/api/terminal/tickets", json={"server_id": r.json()["id"]})
    assert refused.status_code == 409 and "not accepted" in refused.json()["error"]
    # Accepting a fingerprint the server does not present is refused too.
    bad = await client.post(
        f"/api/ssh-servers/{r.json()['id']}/host-key/accept",
        json={"fingerprint": "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
    )
    assert bad.status_code == 502 and "not the" in bad.json()["error"]


async def test_per_user_limit_and_idle_timeout(client, api, sshd, app_env):
    server = await add_server(client, sshd)
    app_env(TERMINAL_MAX_SESSIONS_PER_USER="1", TERMINAL_IDLE_MINUTES="0.03")
    with ApiServer() as limited:
        first = await ticket_for(client, server["id"])
        async with open_term(limited, first) as term:
            async with await open_ws(limited) as ws:
                second = Term(ws)
                await second.send(type="auth", ticket=await ticket_for(client, server["id"]))
                assert "terminals open already" in (await second.control_message("error"))["message"]
            # No input for 1.8 s: the session closes by itself.
            done = await term.control_message("exit", timeout=10)
            assert "without input" in done["reason"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"host": "bad host!"}, "host"),
        ({"port": 0}, "port"),
        ({"username": "root; rm -rf /"}, "username"),
        ({"private_key": "not a key"}, "private_key"),
        ({"auth_method": "password", "private_key": None}, "password"),
        ({"allowed_roles": []}, "allowed_roles"),
        ({"name": "x" * 101}, "name"),
        ({"environment": "<script>"}, "environment"),
        ({"surprise": 1}, "surprise"),
    ],
)
async def test_bad_server_input_names_the_field(client, sshd, body, field):
    base = {"name": "s", "host": "127.0.0.1", "port": 22, "username": "u", "private_key": sshd.client_key}
    r = await client.post("/api/ssh-servers", json={**base, **body})
    assert r.status_code == 422 and field in r.text, r.text
    assert (await client.get("/api/ssh-servers")).json()["items"] == []


async def test_credentials_never_come_back(client, sshd, db):
    server = await add_server(client, sshd)
    listing = await client.get("/api/ssh-servers")
    assert sshd.client_key not in listing.text and "PRIVATE KEY" not in listing.text
    assert listing.json()["items"][0]["has_private_key"] is True
    [row] = db.rows("SELECT private_key_ciphertext FROM ssh_servers")
    assert "PRIVATE KEY" not in row["private_key_ciphertext"]
    audit = db.rows("SELECT details FROM audit_events WHERE action LIKE 'ssh_server.%'")
    assert all("PRIVATE KEY" not in str(a["details"]) for a in audit)
    assert server["host_key_fingerprint"] == sshd.host_key_fingerprint


async def test_a_passphrase_protected_key_works(client, api, sshd):
    encrypted = sshd.client.export_private_key(passphrase="correct passphrase").decode()
    wrong = await client.post(
        "/api/ssh-servers",
        json={
            "name": "locked",
            "host": sshd.host,
            "port": sshd.port,
            "username": sshd.username,
            "private_key": encrypted,
            "passphrase": "wrong passphrase",
        },
    )
    assert wrong.status_code == 422 and "private_key" in wrong.text
    server = await add_server(client, sshd, private_key=encrypted, passphrase="correct passphrase")
    async with open_term(api, await ticket_for(client, server["id"])) as term:
        await term.type("echo unlocked-$((2*21))\r")
        await term.read_until("unlocked-42")


async def test_a_new_passphrase_must_open_the_stored_key(client, api, sshd):
    encrypted = sshd.client.export_private_key(passphrase="first passphrase").decode()
    server = await add_server(client, sshd, private_key=encrypted, passphrase="first passphrase")
    edit = {k: server[k] for k in ("name", "host", "port", "username", "auth_method", "environment", "allowed_roles")}
    # Only the passphrase changes (private_key omitted: the stored key is kept): checked against it.
    wrong = await client.put(f"/api/ssh-servers/{server['id']}", json={**edit, "passphrase": "wrong passphrase"})
    assert wrong.status_code == 422 and wrong.json()["field"] == "passphrase", wrong.text
    assert "stored private key does not open" in wrong.json()["error"]
    removed = await client.put(f"/api/ssh-servers/{server['id']}", json={**edit, "passphrase": ""})
    assert removed.status_code == 422 and "needs a passphrase" in removed.json()["error"], removed.text
    # A new key without a passphrase field is checked with the stored passphrase.
    other = sshd.client.export_private_key(passphrase="other passphrase").decode()
    mismatched = await client.put(f"/api/ssh-servers/{server['id']}", json={**edit, "private_key": other})
    assert mismatched.status_code == 422 and mismatched.json()["field"] == "private_key", mismatched.text
    again = sshd.client.export_private_key(passphrase="first passphrase").decode()
    same = await client.put(f"/api/ssh-servers/{server['id']}", json={**edit, "private_key": again})
    assert same.status_code == 200, same.text
    # Nothing refused was stored: the terminal still opens with the first passphrase.
    async with open_term(api, await ticket_for(client, server["id"])) as term:
        await term.type("echo still-$((2*21))\r")
        await term.read_until("still-42")


async def test_fetching_the_host_key_ignores_the_ssh_config(sshd, tmp_path, monkeypatch):
    from remediation_app.services.terminal.servers import fetch_host_key

    (tmp_path / ".ssh").mkdir()
    (tmp_path / ".ssh" / "config").write_text("Host *\n  HostName nowhere.invalid\n  Port 1\n")
    monkeypatch.setenv("HOME", str(tmp_path))
    key = await fetch_host_key(sshd.host, sshd.port)
    assert key.fingerprint == sshd.host_key_fingerprint


async def test_refused_tickets_name_their_owner_and_an_unpinned_key_refuses(client, api, sshd, db):
    server = await add_server(client, sshd)
    ticket = await ticket_for(client, server["id"])
    async with open_term(api, ticket) as term:
        await term.type("exit\r")
        await term.control_message("exit")

    async def outcome(ticket: str) -> str:
        async with await open_ws(api) as ws:
            term = Term(ws)
            await term.send(type="auth", ticket=ticket)
            return str((await term.control_message("error"))["message"])

    assert "already used" in await outcome(ticket)
    # The key is unpinned after the ticket was issued (here: directly in the database).
    pending = await ticket_for(client, server["id"])
    db.execute("UPDATE ssh_servers SET host_key = '', host_key_fingerprint = '' WHERE id = :id", id=server["id"])
    assert "host key is not accepted" in await outcome(pending)
    assert "invalid or expired" in await outcome("made-up-ticket")
    refused = db.rows("SELECT actor, actor_id, target, details FROM audit_events WHERE action = 'terminal.refused'")
    details = [r["details"] if isinstance(r["details"], dict) else json.loads(r["details"]) for r in refused]
    assert [d["reason"] for d in details] == ["ticket_reused", "no_host_key", "bad_ticket"]
    admin_id = db.scalar("SELECT id FROM users WHERE username = 'test-admin'")
    assert [(r["actor"], r["actor_id"], r["target"]) for r in refused] == [
        ("test-admin", admin_id, "web-1"),
        ("test-admin", admin_id, "web-1"),
        ("", None, ""),  # nobody's ticket
    ]
    assert db.count("terminal_sessions") == 1  # the refused ones opened nothing


async def test_binary_frames_are_ignored(client, api, sshd):
    server = await add_server(client, sshd)
    async with await open_ws(api) as ws:
        term = Term(ws)
        await ws.send(b"\x00binary before the ticket")
        await term.send(type="auth", ticket=await ticket_for(client, server["id"]))
        await term.control_message("ready")
        await ws.send(b"\xff\xfe binary while open")
        await term.type("echo alive-$((6*7))\r")
        await term.read_until("alive-42")
        assert not any(m["type"] in ("exit", "error") for m in term.control)


async def test_abandoned_sessions_get_an_end(app_settings, db):
    from datetime import timedelta

    from remediation_app.db import async_session
    from remediation_app.models import TerminalSession, utcnow
    from remediation_app.services.terminal.sessions import close_abandoned_sessions

    now = utcnow()
    beat = now - timedelta(minutes=10)
    async with async_session() as session:
        rows = {
            "abandoned": TerminalSession(username="u", server_name="s", started_at=beat, heartbeat_at=beat),
            "alive": TerminalSession(username="u", server_name="s", started_at=beat, heartbeat_at=now),
            "ended": TerminalSession(
                username="u", server_name="s", started_at=beat, heartbeat_at=beat, ended_at=beat, close_reason="exit"
            ),
        }
        session.add_all(rows.values())
        await session.commit()
        ids = {name: row.id for name, row in rows.items()}
    assert await close_abandoned_sessions() == 1
    found = {r["id"]: r for r in db.rows("SELECT id, ended_at, heartbeat_at, close_reason FROM terminal_sessions")}
    abandoned = found[ids["abandoned"]]
    assert abandoned["ended_at"] is not None and abandoned["ended_at"] == abandoned["heartbeat_at"]
    assert "process running it stopped" in abandoned["close_reason"]
    assert found[ids["alive"]]["ended_at"] is None and found[ids["ended"]]["close_reason"] == "exit"
    assert await close_abandoned_sessions() == 0


async def _revoke(how: str, anon: Any, user: Any, headers: dict[str, str]) -> None:
    """End the login behind `headers` the way a person would: logout, deactivation, role or password."""
    from sqlmodel import select

    from remediation_app.db import async_session
    from remediation_app.models import User
    from remediation_app.services import users
    from tests.conftest import TEST_PASSWORD

    if how == "logout":
        r = await anon.post("/api/auth/logout", headers=headers)
        assert r.status_code == 200, r.text
        return
    if how == "password":
        body = {"current_password": TEST_PASSWORD, "new_password": "a-new-password-1234"}
        r = await anon.post("/api/auth/password", json=body, headers=headers)
        assert r.status_code == 204, r.text
        return
    async with async_session() as session:
        admin = (await session.exec(select(User).where(User.username == "test-admin"))).one()
        if how == "deactivate":
            await users.set_active(session, actor=admin, user_id=user.id, active=False)
        else:
            await users.set_role(session, actor=admin, user_id=user.id, role="admin")
        await session.commit()


@pytest.mark.parametrize("how", ["logout", "deactivate", "role", "password"])
async def test_a_live_terminal_closes_when_its_login_ends(how, client, anon, api, sshd, db, tmp_path):
    server = await add_server(client, sshd)
    user = await add_user(f"ops-{how}", "user")
    headers = bearer_for(user)
    spare = await ticket_for(anon, server["id"], headers=headers) if how == "logout" else ""
    marker = tmp_path / "after-revocation"
    async with open_term(api, await ticket_for(anon, server["id"], headers=headers)) as term:
        await term.type("echo alive-$((1+1))\r")
        await term.read_until("alive-2")
        await _revoke(how, anon, user, headers)
        # The server closes the session by itself within seconds (waited on, not slept).
        done = await term.control_message("exit", timeout=WAIT_S)
        assert "login that opened it ended" in done["reason"]
        # Nothing typed afterwards reaches the shell.
        with contextlib.suppress(websockets.ConnectionClosed):
            await term.type(f"touch {marker}\r")
    assert not marker.exists()
    [row] = db.rows("SELECT close_reason, ended_at FROM terminal_sessions WHERE username = :u", u=f"ops-{how}")
    assert row["ended_at"] is not None and "login that opened it ended" in row["close_reason"]
    if spare:
        # A ticket issued before the logout dies with that login.
        async with await open_ws(api) as ws:
            term = Term(ws)
            await term.send(type="auth", ticket=spare)
            assert "no longer valid" in (await term.control_message("error"))["message"]
