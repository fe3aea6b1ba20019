"""Add, change and delete for the lists admins keep (LLM providers, SSH servers, datasources): one set
of routes, told the service's records (what a row is called, its refusal, its audited delete), how
the service saves a row, and how that service's refusals are answered."""

# Without `from __future__ import annotations`: FastAPI reads the routes' annotations, and the body's
# type is only known when the routes are added.

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.api.deps import MAX_ID, AdminUser, SessionDep, client_address
from remediation_app.api.errors import error, refusals, refused_change
from remediation_app.models import User
from remediation_app.services.records import FieldError, Records


class NamedBody(BaseModel):
    """What an admin sends to add or change a row of such a list: a name, and the list's fields."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=100)


Body = TypeVar("Body", bound=NamedBody)


def _field_refused(exc: FieldError) -> JSONResponse:
    return refused_change(exc, exc.field)


def _not_found(exc: FieldError) -> JSONResponse:
    return error(404, str(exc))


@dataclass(frozen=True)
class AdminList(Generic[Body]):
    """A row is at f"{path}/{{<noun>_id}}"; the operation ids are api_create_<noun>... (the records' noun)."""

    path: str  # "/api/providers"
    records: Records[Any]
    noun: str  # "a provider": in the summaries and in the answer to a name taken meanwhile
    body: type[Body]
    public: type[BaseModel]
    save: Callable[[AsyncSession, Body, int | None, User, str], Awaitable[Any]]  # the row, not committed
    save_refused: Callable[[Any], JSONResponse] = _field_refused
    delete_refused: Callable[[Any], JSONResponse] = _not_found
    change_note: str = ""  # added to the change route's summary


def add_admin_routes(router: APIRouter, spec: AdminList[Body]) -> None:
    id_name, refusal = f"{spec.records.noun}_id", spec.records.error
    row_path = f"{spec.path}/{{{id_name}}}"
    save_refusals = refusals({404: "No such row (deleted meanwhile?)", 409: "The name is taken"})

    async def save(
        session: AsyncSession, body: Body, row_id: int | None, admin: User, request: Request
    ) -> BaseModel | JSONResponse:
        try:
            row = await spec.save(session, body, row_id, admin, client_address(request))
        except refusal as exc:
            return spec.save_refused(exc)
        try:
            await session.commit()
        except sa.exc.IntegrityError:  # the same name saved by someone else this instant
            return error(409, f"name: {spec.noun} named {body.name!r} exists", field="name")
        return spec.public.model_validate(row)

    async def create(body: Body, admin: AdminUser, request: Request, session: SessionDep) -> Any:
        return await save(session, body, None, admin, request)

    async def update(
        body: Body,
        admin: AdminUser,
        request: Request,
        session: SessionDep,
        row_id: int = Path(alias=id_name, ge=1, le=MAX_ID),
    ) -> Any:
        return await save(session, body, row_id, admin, request)

    async def delete(
        admin: AdminUser, request: Request, session: SessionDep, row_id: int = Path(alias=id_name, ge=1, le=MAX_ID)
    ) -> Response:
        try:
            await spec.records.delete(session, row_id, actor=admin, address=client_address(request))
        except refusal as exc:
            return spec.delete_refused(exc)
        await session.commit()
        return Response(status_code=204)

    create.__annotations__["body"] = update.__annotations__["body"] = spec.body
    routes = (
        (spec.path, create, "POST", "create", 201, f"Add {spec.noun} (admins)", save_refusals),
        (row_path, update, "PUT", "update", 200, f"Change {spec.noun} (admins{spec.change_note})", save_refusals),
        (row_path, delete, "DELETE", "delete", 204, f"Delete {spec.noun} (admins)", refusals({404: "No such row"})),
    )
    for path, endpoint, method, verb, status, summary, responses in routes:
        deleting = method == "DELETE"
        router.add_api_route(
            path,
            endpoint,
            methods=[method],
            status_code=status,
            summary=summary,
            responses=responses,
            response_model=None if deleting else spec.public,
            response_class=Response if deleting else JSONResponse,
            name=f"api_{verb}_{spec.records.noun}",  # the operation ids these routes always had
        )
