"""LLM providers (/api/providers: list for users, changes and connection tests for admins) and /api/costs."""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from remediation_app.api.deps import AdminUser, CurrentUser, client_address
from remediation_app.api.errors import error
from remediation_app.db import async_session
from remediation_app.services import providers
from remediation_app.services.llm import costs

router = APIRouter(tags=["llm"])
MAX_ID = 2**31 - 1


class ProviderBody(BaseModel):
    """api_key: omit (or null) to keep the stored key, "" to remove it, a value to replace it."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=100)
    model: str = Field(max_length=255, examples=["openai/gpt-4o-mini", "anthropic/claude-sonnet-4-5", "ollama/llama3"])
    api_base: str = Field(default="", max_length=1024)
    api_key: str | None = Field(default=None, max_length=providers.MAX_KEY)
    is_default: bool = False
    enabled: bool = True
    temperature: float = 0.2
    max_tokens: int = 1500
    timeout_s: float = 60.0


async def _listing() -> dict[str, Any]:
    async with async_session() as session:
        items = await providers.providers_public(session)
        default_id = await providers.default_provider_id(session)
    return {"items": items, "default_id": default_id}


@router.get("/api/providers", summary="LLM providers (never their keys) and which one is the default")
async def api_providers(_user: CurrentUser) -> dict[str, Any]:
    return await _listing()


async def _save(body: ProviderBody, provider_id: int | None, admin: Any, request: Request) -> Any:
    data = providers.ProviderInput(**body.model_dump())
    async with async_session() as session:
        try:
            row = await providers.save_provider(
                session, data, provider_id=provider_id, actor=admin, address=client_address(request)
            )
        except providers.ProviderError as exc:
            status = 404 if exc.field == "id" else 409 if "exists" in str(exc) else 422
            return error(status, str(exc), field=exc.field)
        try:
            await session.commit()
        except sa.exc.IntegrityError:  # the same name saved by someone else this instant
            return error(409, f"name: a provider named {data.name!r} exists", field="name")
        return JSONResponse(providers.provider_public(row), status_code=201 if provider_id is None else 200)


@router.post("/api/providers", status_code=201, summary="Add a provider (admins)")
async def api_create_provider(body: ProviderBody, admin: AdminUser, request: Request) -> Any:
    return await _save(body, None, admin, request)


@router.put("/api/providers/{provider_id}", summary="Change a provider (admins)")
async def api_update_provider(
    provider_id: Annotated[int, Path(ge=1, le=MAX_ID)], body: ProviderBody, admin: AdminUser, request: Request
) -> Any:
    return await _save(body, provider_id, admin, request)


@router.delete(
    "/api/providers/{provider_id}", status_code=204, response_class=Response, summary="Delete a provider (admins)"
)
async def api_delete_provider(
    provider_id: Annotated[int, Path(ge=1, le=MAX_ID)], admin: AdminUser, request: Request
) -> Response:
    async with async_session() as session:
        try:
            await providers.delete_provider(session, provider_id, actor=admin, address=client_address(request))
        except providers.ProviderError as exc:
            return error(404, str(exc))
        await session.commit()
    return Response(status_code=204)


@router.post("/api/providers/{provider_id}/test", summary="Test connection: one tiny call (admins)")
async def api_test_provider(provider_id: Annotated[int, Path(ge=0, le=MAX_ID)], _admin: AdminUser) -> dict[str, Any]:
    return await providers.provider_test(provider_id)


@router.get("/api/costs", summary="LLM spend today and this month (UTC), and the daily budget")
async def api_costs(_user: CurrentUser) -> dict[str, Any]:
    async with async_session() as session:
        spend = await costs.spend(session)
    return spend.public()
