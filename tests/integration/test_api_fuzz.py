"""Every API operation, fuzzed from its own OpenAPI schema (schemathesis): never a 5xx.

Inputs are generated from the schema (valid and invalid: wrong types, huge numbers, odd strings) and
sent over real HTTP to the API as an admin. Logout and password changes are left out: they would
revoke the admin's token and turn every later case into a 401.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error

from remediation_app.api import build_api
from tests.conftest import WEBHOOK_TOKEN
from tests.support.api_server import ApiServer
from tests.support.databases import sqlite_url

pytestmark = pytest.mark.slow
ADMIN = ("fuzz-admin", "fuzz-admin-password-1")
EXAMPLES_PER_OPERATION = 40

schema = schemathesis.openapi.from_dict(build_api().openapi()).exclude(path_regex=r"^/api/auth/(logout|password)")


@pytest.fixture(scope="module")
def fuzzed_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    from sqlmodel import Session

    from remediation_app.db import sync_engine
    from remediation_app.models import User, utcnow
    from remediation_app.services import migrations
    from remediation_app.services.security import hash_password

    tmp = tmp_path_factory.mktemp("fuzz")
    url = sqlite_url(tmp)
    migrations.upgrade(url)
    engine = sync_engine(url)
    with Session(engine) as session:
        now = utcnow()
        session.add(
            User(username=ADMIN[0], password_hash=hash_password(ADMIN[1]), role="admin", created_at=now, updated_at=now)
        )
        session.commit()
    engine.dispose()
    env = {"DATABASE_URL": url, "DATA_DIR": str(tmp / "data"), "WEBHOOK_TOKEN": WEBHOOK_TOKEN, "LOG_LEVEL": "ERROR"}
    with ApiServer(env, log=Path(tmp) / "api.log") as server:
        token = httpx.post(
            f"{server.url}/api/auth/token", data={"username": ADMIN[0], "password": ADMIN[1]}, timeout=30
        )
        token.raise_for_status()
        yield server.url, {"Authorization": f"Bearer {token.json()['access_token']}"}


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_no_operation_answers_a_server_error(case, fuzzed_api):
    base_url, admin = fuzzed_api
    headers = dict(case.headers or {})
    if case.path == "/webhook/alerts":
        headers.setdefault("Authorization", f"Bearer {WEBHOOK_TOKEN}")
    else:
        headers.update(admin)
    response = case.call(base_url=base_url, headers=headers, timeout=30)
    case.validate_response(response, checks=[not_a_server_error])
