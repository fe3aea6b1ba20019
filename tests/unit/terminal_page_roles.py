"""Role decisions for the terminal's handlers (TerminalPanelState, AdminServersState,
AdminSessionsState), registered into test_reflex_handlers_roles.DECISIONS (that module imports
this one).

The terminal panel is for any logged-in user: anonymous is sent to log in and gets nothing (no
servers, no ticket); a user sees only the servers its role may open and gets tickets only for
those. The servers and sessions pages are for admins: anonymous and users are refused, the tab
forgets what it held, and no server, ticket, session or audit event changes.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Awaitable, Callable, Iterator
from typing import Any
from unittest import mock

from sqlmodel import col, func, select

from remediation_app.db import async_session
from remediation_app.models import Alert, AuditEvent, SSHServer, TerminalSession, TerminalTicket, utcnow
from remediation_app.services.terminal import servers as ssh_servers
from tests.support.sshd import new_key, private_text, public_line
from tests.unit.test_reflex_handlers_roles import (
    DECISIONS,
    ROLES,
    World,
    _setvar,
    _state_cls,
    assert_no_secret_in_state,
    call,
    decides,
    expect_refused,
    redirect_of,
)

PANEL, SERVERS, SESSIONS = "TerminalPanelState", "AdminServersState", "AdminSessionsState"
HOST_KEY = new_key()
CLIENT_KEY = private_text(new_key())
FINGERPRINT = str(HOST_KEY.get_fingerprint("sha256"))


def panel_shows(page: Any) -> bool:
    return bool(page.servers or page.loaded or page.ticket or page.selected or page.for_alert_id)


def servers_show(page: Any) -> bool:
    return bool(page.rows or page.loaded or page.editing_id or page._extras_by_row)


def sessions_show(page: Any) -> bool:
    return bool(page.rows or page.total or page.replay_id)


SHOWS = {PANEL: panel_shows, SERVERS: servers_show, SESSIONS: sessions_show}
for _cls_name, _shows in SHOWS.items():
    DECISIONS[(_cls_name, "setvar")] = functools.partial(_setvar, cls_name=_cls_name, protected=_shows)


async def add_server(w: World, name: str, roles: tuple[str, ...], *, pinned: bool = True) -> int:
    async with async_session() as session:
        row = await ssh_servers.save_server(
            session,
            ssh_servers.ServerInput(
                name=name, host="127.0.0.1", username="ops", port=2222, private_key=CLIENT_KEY, allowed_roles=roles
            ),
            server_id=None,
            actor=w.admin,
        )
        if pinned:
            row.host_key, row.host_key_fingerprint = public_line(HOST_KEY), FINGERPRINT
        await session.commit()
        assert row.id is not None
        return row.id


async def add_session(w: World) -> int:
    async with async_session() as session:
        row = TerminalSession(
            user_id=w.user.id, username="roles-user", server_name="shared", started_at=utcnow(), recording_bytes=10
        )
        session.add(row)
        await session.commit()
        assert row.id is not None
        return row.id


async def snapshot() -> dict[str, Any]:
    async with async_session() as session:
        servers = (await session.exec(select(SSHServer).order_by(col(SSHServer.id)))).all()
        counts = {
            cls.__name__: (await session.exec(select(func.count()).select_from(cls))).one()
            for cls in (AuditEvent, TerminalTicket, TerminalSession)
        }
    return {"servers": [s.model_dump() for s in servers], **counts}


async def last_event() -> AuditEvent:
    async with async_session() as session:
        event = (await session.exec(select(AuditEvent).order_by(col(AuditEvent.id).desc()))).first()
    assert event is not None
    return event


@contextlib.contextmanager
def presented(fingerprint: str = FINGERPRINT) -> Iterator[None]:
    """The servers present HOST_KEY (or a key with `fingerprint`) without any network."""
    key = ssh_servers.HostKey(line=public_line(HOST_KEY), fingerprint=fingerprint, algorithm="ssh-ed25519")
    with mock.patch.object(ssh_servers, "fetch_host_key", mock.AsyncMock(return_value=key)):
        yield


async def admin_only(
    w: World,
    cls_name: str,
    name: str,
    args: list[Any],
    admin_sees: Callable[[Any, Any], Awaitable[None]],
    prepare: Callable[[Any], None] = lambda page: None,
    path: str = "/admin/servers",
) -> None:
    before = await snapshot()
    for role in ROLES:
        page = w.state(_state_cls(cls_name), role, path=path)
        prepare(page)
        result = await call(page, name, *args)
        assert_no_secret_in_state(page, CLIENT_KEY.splitlines()[1])
        if role == "admin":
            assert redirect_of(result) is None, result
            await admin_sees(page, result)
        else:
            expect_refused(result, role)
            assert not SHOWS[cls_name](page), (name, role)
            assert await snapshot() == before, (name, role)


# --- The terminal panel (any logged-in user) ---------------------------------------------------


@decides((PANEL, "load"), (PANEL, "for_alert"), (PANEL, "choose_server"))
async def _panel_load(w: World, name: str) -> None:
    shared = await add_server(w, "shared", ("admin", "user"))
    await add_server(w, "admins-only", ("admin",))
    await add_server(w, "unpinned", ("admin", "user"), pinned=False)
    async with async_session() as session:  # the alert's instance label names the shared server
        alert = await session.get(Alert, w.alert_id)
        assert alert is not None
        alert.instance = "shared:9100"
        session.add(alert)
        await session.commit()
    args = {"for_alert": [str(w.alert_id)], "choose_server": [str(shared)]}.get(name, [])
    before = await snapshot()
    for role in ROLES:
        page = w.state(_state_cls(PANEL), role, path=f"/terminal?server={shared}&alert={w.alert_id}")
        if name == "choose_server":
            page.servers = [{"id": str(shared), "name": "shared"}] if role != "anonymous" else []
        result = await call(page, name, *args)
        assert await snapshot() == before
        if role == "anonymous":
            expect_refused(result, role)
            assert not panel_shows(page)
            continue
        assert result is None and page.error == "", page.error
        assert page.selected == str(shared)
        if name == "choose_server":
            continue
        shown = {s["name"]: s for s in page.servers}
        assert set(shown) == ({"shared", "unpinned", "admins-only"} if role == "admin" else {"shared", "unpinned"})
        assert shown["unpinned"]["ready"] == "" and "host key" in shown["unpinned"]["why"]
        assert page.for_alert_id == str(w.alert_id)
        # A revisit (the same page again) forgets the terminal shown before: its ticket is used.
        page.ticket, page.open_server, page.status, page.connected = "used-ticket", "shared", "ready", True
        assert await call(page, name, *args) is None
        assert (page.ticket, page.open_server, page.status, page.connected) == ("", "", "", False)
        if name == "for_alert":  # on the alert page itself: the alert of the URL
            page = w.state(_state_cls(PANEL), role, path=f"/alerts/{w.alert_id}", query={"alert_id": str(w.alert_id)})
            assert await call(page, "for_alert") is None
            assert (page.for_alert_id, page.selected) == (str(w.alert_id), str(shared))


@decides((PANEL, "open_terminal"))
async def _panel_open(w: World, _name: str) -> None:
    shared = await add_server(w, "shared", ("admin", "user"))
    secret = await add_server(w, "admins-only", ("admin",))
    for target, allowed in ((shared, {"user", "admin"}), (secret, {"admin"})):
        for role in ROLES:
            before = await snapshot()
            page = w.state(_state_cls(PANEL), role, path="/terminal")
            page.selected = str(target)
            result = await call(page, "open_terminal")
            tickets = (await snapshot())["TerminalTicket"] - before["TerminalTicket"]
            if role == "anonymous":
                expect_refused(result, role)
                assert not panel_shows(page) and tickets == 0
            elif role in allowed:
                assert result is None and page.error == "" and page.ticket != "" and tickets == 1
            else:
                assert page.ticket == "" and page.error == "your role may not open admins-only" and tickets == 0


@decides((PANEL, "close_terminal"))
async def _panel_close(w: World, _name: str) -> None:
    for role in ROLES:
        page = w.state(_state_cls(PANEL), role, path="/terminal")
        page.ticket, page.open_server = "a-ticket", "shared"
        result = await call(page, "close_terminal")
        if role == "anonymous":
            expect_refused(result, role)
        else:
            assert result is None
        assert page.ticket == "" and page.open_server == ""


@decides((PANEL, "terminal_status"))
async def _panel_status(w: World, _name: str) -> None:
    """Only what the tab's own terminal reported; nothing loaded, nothing changed."""
    before = await snapshot()
    for role in ROLES:
        page = w.state(_state_cls(PANEL), role, path="/terminal")
        await call(page, "terminal_status", "exit", "session closed")
        assert page.status == "" and not page.ended  # no terminal open: ignored
        page.ticket = "a-ticket"
        await call(page, "terminal_status", "exit", "session closed")
        assert page.status == "session closed" and page.ended and not page.servers
        assert not page.connected
        await call(page, "terminal_status", "ready", "connected to shared")
        assert page.connected and not page.ended  # "Send to terminal" may paste
    assert await snapshot() == before


# --- The servers page (admins) -------------------------------------------------------------------


@decides((SERVERS, "load"), (SERVERS, "start_edit"), (SERVERS, "cancel_edit"))
async def _servers_load(w: World, name: str) -> None:
    target = await add_server(w, "shared", ("admin", "user"))

    async def shown(page: Any, _result: Any) -> None:
        if name == "load":
            assert [r["name"] for r in page.rows] == ["shared"]
            assert page.rows[0]["fingerprint"] == FINGERPRINT and page.rows[0]["credentials"] == "key"
        elif name == "start_edit":
            assert page.editing_id == str(target) and page.form["has_private_key"] == "true"
            assert page.form["role_user"] == "true" and page.form["port"] == "2222"
        else:
            assert page.editing_id == ""

    def editing(page: Any) -> None:
        page.editing_id = str(target) if name == "cancel_edit" else ""

    await admin_only(w, SERVERS, name, [str(target)] if name == "start_edit" else [], shown, editing)


@decides((SERVERS, "save_row"))
async def _servers_save(w: World, _name: str) -> None:
    form = {
        "name": "created",
        "host": "db-1.example",
        "port": "22",
        "username": "ops",
        "auth_method": "key",
        "private_key": CLIENT_KEY,
        "environment": "prod",
        "role_admin": "on",
    }

    async def saved(page: Any, _result: Any) -> None:
        assert page.error == "" and page.notice == "Saved server created."
        assert [(r["name"], r["environment"], r["allowed_roles"]) for r in page.rows] == [("created", "prod", "admin")]
        assert (await last_event()).action == "ssh_server.create"

    await admin_only(w, SERVERS, "save_row", [form], saved)


@decides((SERVERS, "delete_row"))
async def _servers_delete(w: World, _name: str) -> None:
    target = await add_server(w, "doomed", ("admin",))

    async def deleted(page: Any, _result: Any) -> None:
        assert page.notice == "Server deleted." and page.rows == []
        assert (await last_event()).action == "ssh_server.delete"

    await admin_only(w, SERVERS, "delete_row", [str(target)], deleted)


@decides((SERVERS, "fetch_host_key"), (SERVERS, "accept_host_key"))
async def _servers_host_key(w: World, name: str) -> None:
    target = await add_server(w, "fresh", ("admin",), pinned=False)

    def shown_key(page: Any) -> None:
        page._extras_by_row = {str(target): {"key_fingerprint": FINGERPRINT}}

    async def done(page: Any, _result: Any) -> None:
        if name == "fetch_host_key":
            assert page._extras_by_row[str(target)]["key_fingerprint"] == FINGERPRINT
            assert page._extras_by_row[str(target)]["key_match"] == "new"
        else:
            assert page.error == "" and FINGERPRINT in page.notice
            async with async_session() as session:
                row = await session.get(SSHServer, target)
            assert row is not None and row.host_key_fingerprint == FINGERPRINT
            assert (await last_event()).action == "ssh_server.host_key"

    with presented():
        await admin_only(w, SERVERS, name, [str(target)], done, shown_key)


# --- The sessions page (admins) -------------------------------------------------------------------


@decides(
    (SESSIONS, "load"),
    (SESSIONS, "next_page"),
    (SESSIONS, "previous_page"),
    (SESSIONS, "open_replay"),
    (SESSIONS, "choose_speed"),
    (SESSIONS, "close_replay"),
)
async def _sessions(w: World, name: str) -> None:
    target = await add_session(w)

    def prepare(page: Any) -> None:
        page.rows = [{"id": str(target)}] if name == "open_replay" else []
        page.replay_id = str(target) if name == "close_replay" else ""

    async def done(page: Any, _result: Any) -> None:
        if name == "open_replay":
            assert page.replay_id == str(target) and page.replay_src.endswith(f"/{target}/recording")
        elif name == "choose_speed":
            assert page.replay_speed == "4"
        elif name == "close_replay":
            assert page.replay_id == ""
        else:
            assert [r["username"] for r in page.rows] == ["roles-user"] and page.total == 1

    args = {"open_replay": [str(target)], "choose_speed": ["4"], "close_replay": [False]}.get(name, [])
    await admin_only(w, SESSIONS, name, args, done, prepare, path="/admin/sessions")


@decides((SESSIONS, "replay_reported"))
async def _sessions_reported(w: World, _name: str) -> None:
    """Only what the tab's own replay reported; nothing loaded."""
    for role in ROLES:
        page = w.state(_state_cls(SESSIONS), role, path="/admin/sessions")
        await call(page, "replay_reported", "done", "")
        assert page.replay_status == ""
        page.replay_id = "1"
        await call(page, "replay_reported", "done", "")
        assert page.replay_status == "done" and page.rows == []
