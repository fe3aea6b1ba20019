"""SSH servers (/api/ssh-servers), terminal tickets, the terminal WebSocket (/ws/terminal), and
session records with their recordings (admins)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, WebSocket
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.websockets import WebSocketDisconnect

from remediation_app.api.admin_lists import AdminList, NamedBody, add_admin_routes
from remediation_app.api.deps import MAX_ID, AdminUser, CurrentUser, RowId, SessionDep, client_address
from remediation_app.api.errors import error, refusals, refused_change
from remediation_app.api.origins import headers_origin_ok
from remediation_app.api.schemas import HostKey, Items, Page, ServerPublic, SessionPublic, Ticket
from remediation_app.crypto import DecryptionError
from remediation_app.models import SSHServer, TerminalSession, User
from remediation_app.services import audit
from remediation_app.services.terminal import bridge, servers, sessions, tickets
from remediation_app.services.terminal.recording import read_recording
from remediation_app.settings import get_settings

router = APIRouter(tags=["terminal"])
AUTH_TIMEOUT_S = 10.0
WORKER = f"{socket.gethostname()[:100]}:{os.getpid()}"


class ServerBody(NamedBody):
    """Secrets (private_key, passphrase, password): omit or null keeps, "" removes, a value replaces."""

    host: str = Field(max_length=255)
    port: int = Field(default=22, ge=1, le=65535)
    username: str = Field(max_length=64)
    auth_method: Literal["key", "password"] = "key"
    private_key: str | None = Field(default=None, max_length=servers.SECRET_MAX)
    passphrase: str | None = Field(default=None, max_length=servers.SECRET_MAX)
    password: str | None = Field(default=None, max_length=servers.SECRET_MAX)
    environment: str = Field(default="", max_length=64)
    allowed_roles: list[Literal["admin", "user"]] = Field(default=["admin"], min_length=1, max_length=2)


def _server_error(exc: servers.ServerError) -> JSONResponse:
    return refused_change(exc, exc.field)


@router.get(
    "/api/ssh-servers",
    response_model=Items[ServerPublic],
    summary="SSH servers this user may open (never their credentials)",
)
async def api_servers(user: CurrentUser, session: SessionDep) -> Items[ServerPublic]:
    rows = await servers.servers_for(session, user)
    return Items(items=[ServerPublic.model_validate(r) for r in rows])


async def _save(session: AsyncSession, body: ServerBody, server_id: int | None, actor: User, address: str) -> SSHServer:
    data = servers.ServerInput(**{**body.model_dump(), "allowed_roles": tuple(body.allowed_roles)})
    return await servers.save_server(session, data, server_id=server_id, actor=actor, address=address)


add_admin_routes(
    router,
    AdminList(
        path="/api/ssh-servers",
        records=servers.SERVERS,
        noun="an SSH server",
        body=ServerBody,
        public=ServerPublic,
        save=_save,
        delete_refused=_server_error,
        change_note="; a new host or port unpins its key",
    ),
)


@router.post(
    "/api/ssh-servers/{server_id}/host-key",
    response_model=HostKey,
    summary="Fetch the host key the server presents now (admins)",
    responses=refusals({404: "No such server", 502: "The server could not be reached"}),
)
async def api_fetch_host_key(server_id: RowId, _admin: AdminUser, session: SessionDep) -> HostKey | JSONResponse:
    row = await session.get(SSHServer, server_id)
    await session.close()  # no connection held while the server answers (the row stays readable)
    if row is None:
        return error(404, "no such server")
    try:
        key = await servers.fetch_host_key(row.host, row.port)
    except servers.ServerError as exc:
        return _server_error(exc)
    return HostKey(
        fingerprint=key.fingerprint,
        algorithm=key.algorithm,
        accepted=key.fingerprint == row.host_key_fingerprint,
        accepted_fingerprint=row.host_key_fingerprint or None,
    )


class AcceptBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fingerprint: str = Field(max_length=128, pattern=r"^SHA256:[A-Za-z0-9+/=]+$")


@router.post(
    "/api/ssh-servers/{server_id}/host-key/accept",
    response_model=ServerPublic,
    summary="Pin the host key with this fingerprint (admins)",
    responses=refusals({404: "No such server", 502: "The server presents another key, or could not be reached"}),
)
async def api_accept_host_key(
    server_id: RowId, body: AcceptBody, admin: AdminUser, request: Request, session: SessionDep
) -> ServerPublic | JSONResponse:
    try:
        row = await servers.accept_host_key(
            session, server_id, body.fingerprint, actor=admin, address=client_address(request)
        )
    except servers.ServerError as exc:
        await session.commit()  # the refusal's audit event
        return _server_error(exc)
    await session.commit()
    return ServerPublic.model_validate(row)


class TicketBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    server_id: int = Field(ge=1, le=MAX_ID)
    alert_id: int | None = Field(default=None, ge=1, le=MAX_ID)


@router.post(
    "/api/terminal/tickets",
    status_code=201,
    response_model=Ticket,
    summary="A one-time ticket to open a terminal (30 s)",
    responses=refusals({403: "The user's role may not open it", 404: "No such server", 409: "No accepted host key"}),
)
async def api_ticket(body: TicketBody, user: CurrentUser) -> Ticket | JSONResponse:
    try:
        ticket = await tickets.issue_ticket(user, body.server_id, body.alert_id)
    except tickets.TerminalRefused as exc:
        return error(404 if exc.code == "unknown_server" else 403 if exc.code == "role" else 409, str(exc))
    return Ticket(ticket=ticket, expires_in=get_settings().terminal_ticket_seconds)


def _size(value: Any, low: int, high: int, default: int) -> int:
    return value if isinstance(value, int) and low <= value <= high else default


def _origin_ok(ws: WebSocket) -> bool:
    """Allowed origins only (api/origins.py): a page elsewhere cannot open a terminal with the user's browser."""
    return headers_origin_ok(ws.headers)


@router.websocket("/ws/terminal")
async def terminal_ws(ws: WebSocket) -> None:
    """First message: {"type": "auth", "ticket": "...", "cols": C, "rows": R}; then the protocol in
    services/terminal/bridge.py. Refusals arrive as {"type": "error", "message": ...} before the close."""
    address = client_address(ws)
    if not _origin_ok(ws):
        await ws.close(code=4403, reason="foreign origin")  # before accept: the handshake gets 403
        return
    await ws.accept()
    try:
        async with asyncio.timeout(AUTH_TIMEOUT_S):
            while (raw := await bridge.receive_text(ws)) is None:
                pass  # a binary frame before the ticket: ignored
        first = json.loads(raw)
        if not isinstance(first, dict) or first.get("type") != "auth":
            raise ValueError
        grant = await tickets.redeem_ticket(str(first.get("ticket") or ""))
    except tickets.TerminalRefused as refusal:
        await bridge.refuse(ws, refusal, user=refusal.user, target=refusal.target, address=address)
        await ws.close(code=4401)
        return
    except (TimeoutError, ValueError, WebSocketDisconnect):
        await bridge.refuse(
            ws, tickets.TerminalRefused("no ticket", "no_ticket"), user=None, target="", address=address
        )
        await ws.close(code=4401)
        return
    cols, rows = _size(first.get("cols"), 2, 1000, 80), _size(first.get("rows"), 1, 500, 24)
    await bridge.run_terminal(ws, grant, cols=cols, rows=rows, address=address, worker=WORKER)
    with contextlib.suppress(RuntimeError):  # already closed by the browser
        await ws.close(code=1000)


@router.get(
    "/api/terminal/sessions", response_model=Page[SessionPublic], summary="Terminal sessions, newest first (admins)"
)
async def api_sessions(
    _admin: AdminUser,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Page[SessionPublic]:
    total = await sessions.count_sessions(session)
    rows = await sessions.list_sessions(session, limit=limit, offset=offset)
    return Page(items=[SessionPublic.model_validate(r) for r in rows], total=total)


@router.get(
    "/api/terminal/sessions/{session_id}/recording",
    summary="Download a session's recording (asciicast v2; admins)",
    response_class=StreamingResponse,
    responses={404: {"description": "No such session, or it has no recording"}},
)
async def api_recording(session_id: RowId, admin: AdminUser, session: SessionDep) -> Any:
    row = await session.get(TerminalSession, session_id)
    if row is None:
        raise HTTPException(status_code=404, detail="no such session")
    chunks = read_recording(session_id)
    try:
        first = await anext(chunks)
    except StopAsyncIteration:
        return error(404, "this session has no recording")
    except DecryptionError as exc:
        return error(500, str(exc))

    async def body() -> AsyncIterator[str]:
        yield first
        async for chunk in chunks:
            yield chunk

    audit.record(
        session, action="terminal.download", actor=admin, target=row.server_name, details={"session_id": session_id}
    )
    await session.commit()
    return StreamingResponse(
        body(),
        media_type="application/x-asciicast",
        headers={"Content-Disposition": f'attachment; filename="terminal-session-{session_id}.cast"'},
    )
