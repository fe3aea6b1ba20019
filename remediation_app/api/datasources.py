"""Datasources (/api/datasources, admins only): the Prometheus-compatible query APIs analyses gather
evidence from. The credential (a bearer token or a basic-auth password) is write-only: no answer
carries it, only `has_secret`."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import Field

from remediation_app.api.connections import ConnectionBody, add_connection_routes
from remediation_app.api.schemas import DatasourcePublic, DatasourceTestFailed, DatasourceTestPassed
from remediation_app.services.investigation import datasources

router = APIRouter(tags=["investigation"])


class DatasourceBody(ConnectionBody):
    __doc__ = ConnectionBody.__doc__

    url: str = Field(max_length=1024, examples=["http://prometheus:9090", "https://mimir.example/prometheus"])
    timeout_s: float = Field(default=5.0, description="per query, 0.5 to 60 seconds")
    is_default: bool = Field(default=False, description="consulted for alerts no datasource matches by host")


add_connection_routes(
    router,
    datasources.KIND,
    path="/api/datasources",
    body=DatasourceBody,
    public=DatasourcePublic,
    test=datasources.datasource_test,
    passed=DatasourceTestPassed,
    failed=DatasourceTestFailed,
    what="Datasources",
    called="a datasource",
    test_finds="the datasource's version",
)
