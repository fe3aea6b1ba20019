"""LLM providers (/api/providers: list for users, changes and connection tests for admins) and /api/costs."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path
from pydantic import Field
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.api.admin_lists import AdminList, NamedBody, add_admin_routes
from remediation_app.api.deps import MAX_ID, AdminUser, CurrentUser, SessionDep
from remediation_app.api.schemas import (
    ProviderList,
    ProviderPublic,
    ProviderTestFailed,
    ProviderTestPassed,
    SpendPublic,
)
from remediation_app.models import LLMProvider, User
from remediation_app.services.llm import costs, providers

router = APIRouter(tags=["llm"])


class ProviderBody(NamedBody):
    """api_key: omit (or null) to keep the stored key, "" to remove it, a value to replace it."""

    model: str = Field(max_length=255, examples=["openai/gpt-4o-mini", "anthropic/claude-sonnet-4-5", "ollama/llama3"])
    api_base: str = Field(default="", max_length=1024)
    api_key: str | None = Field(default=None, max_length=providers.MAX_KEY)
    is_default: bool = False
    enabled: bool = True
    temperature: float = 0.2
    max_tokens: int = 1500
    timeout_s: float = 60.0
    tool_calling: Literal["auto", "on", "off"] = Field(
        default="auto", description="offer the model tools during analyses: auto (what LiteLLM knows), on, off"
    )
    local: bool = Field(default=False, description="self-hosted: prompts sent to it skip the redaction of secrets")


@router.get(
    "/api/providers",
    response_model=ProviderList,
    summary="LLM providers (never their keys) and which one is the default",
)
async def api_providers(_user: CurrentUser, session: SessionDep) -> ProviderList:
    items = await providers.providers_public(session)
    return ProviderList(
        items=[ProviderPublic.model_validate(item) for item in items],
        default_id=await providers.default_provider_id(session),
    )


async def _save(
    session: AsyncSession, body: ProviderBody, provider_id: int | None, actor: User, address: str
) -> LLMProvider:
    data = providers.ProviderInput(**body.model_dump())
    return await providers.save_provider(session, data, provider_id=provider_id, actor=actor, address=address)


add_admin_routes(
    router,
    AdminList(
        path="/api/providers",
        records=providers.PROVIDERS,
        noun="a provider",
        body=ProviderBody,
        public=ProviderPublic,
        save=_save,
    ),
)


@router.post(
    "/api/providers/{provider_id}/test",
    response_model=ProviderTestPassed | ProviderTestFailed,
    response_model_exclude_unset=True,  # a failure carries `status` only when the provider answered one
    summary="Test connection: one tiny call (admins)",
)
async def api_test_provider(provider_id: Annotated[int, Path(ge=0, le=MAX_ID)], _admin: AdminUser) -> dict[str, Any]:
    return await providers.provider_test(provider_id)


@router.get(
    "/api/costs", response_model=SpendPublic, summary="LLM spend today and this month (UTC), and the daily budget"
)
async def api_costs(_user: CurrentUser, session: SessionDep) -> SpendPublic:
    return SpendPublic.model_validate(await costs.spend(session))
