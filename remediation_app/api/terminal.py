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

from fastapi import APIRouter, HTTPException, Path, Query, Request, WebSocket
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.websockets import WebSocketDisconnect

from remediation_app.api.deps import AdminUser, CurrentUser, client_address
from remediation_app.api.errors import error
from remediation_app.api.origins import headers_origin_ok
from remediation_app.db import async_session
from remediation_app.models import SSHServer, TerminalSession
from remediation_app.services import audit, ssh_servers, terminal, terminal_sessions
from remediation_app.services.crypto import DecryptionError
from remediation_app.services.recording import read_recording
from remediation_app.services.security import forwarded_client
from remediation_app.settings import get_settings

router = APIRouter(tags=["terminal"])
MAX_ID = 2**31 - 1
AUTH_TIMEOUT_S = 10.0
WORKER = f"{socket.gethostname()[:100]}:{os.getpid()}"


class ServerBody(BaseModel):
    """Secrets (private_key, passphrase, password): omit or null keeps, "" removes, a value replaces."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=100)
    host: str = Field(max_length=255)
    port: int = Field(default=22, ge=1, le=65535)
    username: str = Field(max_length=64)
    auth_method: Literal["key", "password"] = "key"
    private_key: str | None = Field(default=None, max_length=ssh_servers.SECRET_MAX)
    passphrase: str | None = Field(default=None, max_length=ssh_servers.SECRET_MAX)
    password: str | None = Field(default=None, max_length=ssh_servers.SECRET_MAX)
    environment: str = Field(default="", max_length=64)
    allowed_roles: list[Literal["admin", "user"]] = Field(default=["admin"], min_length=1, max_length=2)


def _server_error(exc: ssh_servers.ServerError) -> JSONResponse:
    status = 404 if exc.field == "id" else 409 if "exists" in str(exc) else 422 if exc.field else 502
    return error(status, str(exc), field=exc.field)


@router.get("/api/ssh-servers", summary="SSH servers this user may open (never their credentials)")
async def api_servers(user: CurrentUser) -> dict[str, Any]:
    async with async_session() as session:
        rows = await ssh_servers.servers_for(session, user)
    return {"items": [ssh_servers.server_public(r) for r in rows]}


async def _save(body: ServerBody, server_id: int | None, admin: Any, request: Request) -> Any:
    data = ssh_servers.ServerInput(**{**body.model_dump(), "allowed_roles": tuple(body.allowed_roles)})
    async with async_session() as session:
        try:
            row = await ssh_servers.save_server(
                session, data, server_id=server_id, actor=admin, address=client_address(request)
            )
        except ssh_servers.ServerError as exc:
            return _server_error(exc)
        await session.commit()
        return JSONResponse(ssh_servers.server_public(row), status_code=201 if server_id is None else 200)


@router.post("/api/ssh-servers", status_code=201, summary="Add an SSH server (admins)")
async def api_create_server(body: ServerBody, admin: AdminUser, request: Request) -> Any:
    return await _save(body, None, admin, request)


@router.put("/api/ssh-servers/{server_id}", summary="Change an SSH server (admins; a new host or port unpins its key)")
async def api_update_server(
    server_id: Annotated[int, Path(ge=1, le=MAX_ID)], body: ServerBody, admin: AdminUser, request: Request
) -> Any:
    return await _save(body, server_id, admin, request)


@router.delete(
    "/api/ssh-servers/{server_id}", status_code=204, response_class=Response, summary="Delete an SSH server (admins)"
)
async def api_delete_server(
    server_id: Annotated[int, Path(ge=1, le=MAX_ID)], admin: AdminUser, request: Request
) -> Response:
    async with async_session() as session:
        try:
            await ssh_servers.delete_server(session, server_id, actor=admin, address=client_address(request))
        except ssh_servers.ServerError as exc:
            return _server_error(exc)
        await session.commit()
    return Response(status_code=204)


@router.post("/api/ssh-servers/{server_id}/host-key", summary="Fetch the host key the server presents now (admins)")
async def api_fetch_host_key(server_id: Annotated[int, Path(ge=1, le=MAX_ID)], _admin: AdminUser) -> Any:
    async with async_session() as session:
        row = await session.get(SSHServer, server_id)
    if row is None:
        return error(404, "no such server")
    try:
        key = await ssh_servers.fetch_host_key(row.host, row.port)
    except ssh_servers.ServerError as exc:
        return _server_error(exc)
    return {
        "fingerprint": key.fingerprint,
        "algorithm": key.algorithm,
        "accepted": key.fingerprint == row.host_key_fingerprint,
        "accepted_fingerprint": row.host_key_fingerprint or None,
    }


class AcceptBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fingerprint: str = Field(max_length=128, pattern=r"^SHA256:[A-Za-z0-9+/=]+$")


@router.post("/api/ssh-servers/{server_id}/host-key/accept", summary="Pin the host key with this fingerprint (admins)")
async def api_accept_host_key(
    server_id: Annotated[int, Path(ge=1, le=MAX_ID)], body: AcceptBody, admin: AdminUser, request: Request
) -> Any:
    async with async_session() as session:
        try:
            row = await ssh_servers.accept_host_key(
                session, server_id, body.fingerprint, actor=admin, address=client_address(request)
            )
        except ssh_servers.ServerError as exc:
            await session.commit()  # the refusal's audit event
            return _server_error(exc)
        await session.commit()
        return ssh_servers.server_public(row)


class TicketBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    server_id: int = Field(ge=1, le=MAX_ID)
    alert_id: int | None = Field(default=None, ge=1, le=MAX_ID)


@router.post("/api/terminal/tickets", status_code=201, summary="A one-time ticket to open a terminal (30 s)")
async def api_ticket(body: TicketBody, user: CurrentUser) -> Any:
    try:
        ticket = await terminal.issue_ticket(user, body.server_id, body.alert_id)
    except terminal.TerminalRefused as exc:
        return error(404 if exc.code == "unknown_server" else 403 if exc.code == "role" else 409, str(exc))
    return JSONResponse({"ticket": ticket, "expires_in": get_settings().terminal_ticket_seconds}, status_code=201)


def _size(value: Any, low: int, high: int, default: int) -> int:
    return value if isinstance(value, int) and low <= value <= high else default


def _origin_ok(ws: WebSocket) -> bool:
    """Allowed origins only (api/origins.py): a page elsewhere cannot open a terminal with the user's browser."""
    return headers_origin_ok(ws.headers)


def _ws_address(ws: WebSocket) -> str:
    if get_settings().trust_proxy_headers:
        forwarded = forwarded_client(ws.headers.get("x-forwarded-for", ""))
        if forwarded:
            return forwarded
    return (ws.client.host if ws.client else "")[:64]


@router.websocket("/ws/terminal")
async def terminal_ws(ws: WebSocket) -> None:
    """First message: {"type": "auth", "ticket": "...", "cols": C, "rows": R}; then the protocol in
    services/terminal.py. Refusals arrive as {"type": "error", "message": ...} before the close."""
    address = _ws_address(ws)
    if not _origin_ok(ws):
        await ws.close(code=4403, reason="foreign origin")  # before accept: the handshake gets 403
        return
    await ws.accept()
    try:
        async with asyncio.timeout(AUTH_TIMEOUT_S):
            while (raw := await terminal.receive_text(ws)) is None:
                pass  # a binary frame before the ticket: ignored
        first = json.loads(raw)
        if not isinstance(first, dict) or first.get("type") != "auth":
            raise ValueError
        grant = await terminal.redeem_ticket(str(first.get("ticket") or ""))
    except terminal.TerminalRefused as refusal:
        await terminal.refuse(ws, refusal, user=refusal.user, target=refusal.target, address=address)
        await ws.close(code=4401)
        return
    except (TimeoutError, ValueError, WebSocketDisconnect):
        await terminal.refuse(
            ws, terminal.TerminalRefused("no ticket", "no_ticket"), user=None, target="", address=address
        )
        await ws.close(code=4401)
        return
    cols, rows = _size(first.get("cols"), 2, 1000, 80), _size(first.get("rows"), 1, 500, 24)
    await terminal.run_terminal(ws, grant, cols=cols, rows=rows, address=address, worker=WORKER)
    with contextlib.suppress(RuntimeError):  # already closed by the browser
        await ws.close(code=1000)


@router.get("/api/terminal/sessions", summary="Terminal sessions, newest first (admins)")
async def api_sessions(
    _admin: AdminUser,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> dict[str, Any]:
    async with async_session() as session:
        total = await terminal_sessions.count_sessions(session)
        rows = await terminal_sessions.list_sessions(session, limit=limit, offset=offset)
        items = [terminal_sessions.session_public(r) for r in rows]
    return {"items": items, "total": total}


@router.get(
    "/api/terminal/sessions/{session_id}/recording",
    summary="Download a session's recording (asciicast v2; admins)",
    response_class=StreamingResponse,
)
async def api_recording(session_id: Annotated[int, Path(ge=1, le=MAX_ID)], admin: AdminUser) -> Any:
    async with async_session() as session:
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

    async with async_session() as session:
        audit.record(
            session, action="terminal.download", actor=admin, target=row.server_name, details={"session_id": session_id}
        )
        await session.commit()
    return StreamingResponse(
        body(),
        media_type="application/x-asciicast",
        headers={"Content-Disposition": f'attachment; filename="terminal-session-{session_id}.cast"'},
    )
