"""Datasources (/api/datasources, admins only): the Prometheus-compatible query APIs analyses gather
evidence from. The credential (a bearer token or a basic-auth password) is write-only: no answer
carries it, only `has_secret`."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path
from pydantic import Field
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.api.admin_lists import AdminList, NamedBody, add_admin_routes
from remediation_app.api.deps import MAX_ID, AdminUser, SessionDep
from remediation_app.api.schemas import DatasourcePublic, DatasourceTestFailed, DatasourceTestPassed, Items
from remediation_app.models import User
from remediation_app.services.investigation import datasources

router = APIRouter(tags=["investigation"])


class DatasourceBody(NamedBody):
    """secret (the bearer token, or basic authentication's password): omit or null keeps the stored
    one (not when the URL's host changes: send it again), "" removes it, a value replaces it."""

    url: str = Field(max_length=1024, examples=["http://prometheus:9090", "https://mimir.example/prometheus"])
    auth: Literal["none", "bearer", "basic"] = "none"
    username: str = Field(default="", max_length=255, description="for basic authentication")
    secret: str | None = Field(default=None, max_length=datasources.MAX_SECRET)
    timeout_s: float = Field(default=5.0, description="per query, 0.5 to 60 seconds")
    is_default: bool = Field(default=False, description="consulted for alerts no datasource matches by host")
    enabled: bool = True


@router.get(
    "/api/datasources",
    response_model=Items[DatasourcePublic],
    summary="Datasources, the environment's (PROMETHEUS_URL, id 0) first; never their credentials (admins)",
)
async def api_datasources(_admin: AdminUser, session: SessionDep) -> Items[DatasourcePublic]:
    items = await datasources.datasources_public(session)
    return Items[DatasourcePublic](items=[DatasourcePublic.model_validate(item) for item in items])


async def _save(
    session: AsyncSession, body: DatasourceBody, datasource_id: int | None, actor: User, address: str
) -> dict[str, Any]:
    data = datasources.DatasourceInput(**body.model_dump())
    row = await datasources.save_datasource(session, data, datasource_id=datasource_id, actor=actor, address=address)
    # The public view (the URL without its query string or fragment), not the row.
    return datasources.datasource_public(row)


add_admin_routes(
    router,
    AdminList(
        path="/api/datasources",
        records=datasources.DATASOURCES,
        noun="a datasource",
        body=DatasourceBody,
        public=DatasourcePublic,
        save=_save,
        change_note="; a new host needs the credential again",
    ),
)


@router.post(
    "/api/datasources/{datasource_id}/test",
    response_model=DatasourceTestPassed | DatasourceTestFailed,
    summary="Test connection: the datasource's version, or the exact error (admins)",
)
async def api_test_datasource(
    datasource_id: Annotated[int, Path(ge=0, le=MAX_ID)], _admin: AdminUser
) -> dict[str, Any]:
    return await datasources.datasource_test(datasource_id)
