"""The routes of a kind of connection admins keep (datasources, Alertmanagers; services/connections.py):
the list (the environment's, id 0, first), add, change, delete (api/admin_lists.py) and Test
connection. The credential (a bearer token or a basic-auth password) is write-only: no answer
carries it, only `has_secret`."""

# Without `from __future__ import annotations`: FastAPI reads the routes' annotations, and the body's
# type is only known when the routes are added.

from collections.abc import Awaitable, Callable
from typing import Any, Literal

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.api.admin_lists import AdminList, NamedBody, add_admin_routes
from remediation_app.api.deps import MAX_ID, AdminUser, SessionDep
from remediation_app.api.schemas import Items
from remediation_app.models import User
from remediation_app.services.connections import MAX_SECRET, ConnectionKind


class ConnectionBody(NamedBody):
    """A connection to a system the engine calls. secret (the bearer token, or basic
    authentication's password): omit or null keeps the stored one (not when the URL's host changes:
    send it again), "" removes it, a value replaces it."""

    url: str = Field(max_length=1024)
    auth: Literal["none", "bearer", "basic"] = "none"
    username: str = Field(default="", max_length=255, description="for basic authentication")
    secret: str | None = Field(default=None, max_length=MAX_SECRET)
    timeout_s: float = Field(default=5.0, description="per call, 0.5 to 60 seconds")
    is_default: bool = Field(default=False, description="used for alerts no connection matches")
    enabled: bool = True


def add_connection_routes(
    router: APIRouter,
    kind: ConnectionKind[Any, Any],
    *,
    path: str,
    body: type[ConnectionBody],
    public: type[BaseModel],
    test: Callable[[int], Awaitable[dict[str, Any]]],
    passed: type[BaseModel],
    failed: type[BaseModel],
    what: str,  # "Datasources": the list's summary
    called: str,  # "a datasource": a row in the other summaries
    test_finds: str,  # "the datasource's version": what a passed test answers
) -> None:
    """GET `path`, POST `path`, PUT and DELETE `path`/{<noun>_id}, POST `path`/{<noun>_id}/test
    (operation ids api_<noun>s, api_create_<noun>, ..., api_test_<noun>)."""
    noun = kind.noun

    async def save(session: AsyncSession, data: ConnectionBody, row_id: int | None, actor: User, address: str) -> Any:
        row = await kind.save(session, kind.input(**data.model_dump()), row_id=row_id, actor=actor, address=address)
        # The public view (the URL without its query string or fragment), not the row.
        return kind.public(row)

    async def list_rows(_admin: AdminUser, session: SessionDep) -> Any:
        return Items[public](items=[public.model_validate(item) for item in await kind.all_public(session)])  # type: ignore[valid-type]

    async def test_row(_admin: AdminUser, row_id: int = Path(alias=f"{noun}_id", ge=0, le=MAX_ID)) -> Any:
        return await test(row_id)

    env = f"{kind.env_setting}, id 0"
    router.add_api_route(
        path,
        list_rows,
        methods=["GET"],
        response_model=Items[public],  # type: ignore[valid-type]
        summary=f"{what}, the environment's ({env}) first; never their credentials (admins)",
        name=f"api_{noun}s",
    )
    spec = AdminList(
        path=path,
        records=kind.records,
        noun=called,
        body=body,
        public=public,
        save=save,
        change_note="; a new host needs the credential again",
    )
    add_admin_routes(router, spec)
    router.add_api_route(
        f"{path}/{{{noun}_id}}/test",
        test_row,
        methods=["POST"],
        response_model=passed | failed,
        summary=f"Test connection: {test_finds}, or the exact error (admins)",
        name=f"api_test_{noun}",
    )
