"""What the diagnostics tests share: a real sshd registered as a server (its host key pinned through
the API), the runner driven one pass at a time, and the proposals as stored."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlmodel import col, select

from remediation_app.db import async_session
from remediation_app.models import AuditEvent, DiagnosticProposal
from remediation_app.services.diagnostics.runner import DiagnosticsRunner
from tests.conftest import require
from tests.support.sshd import Sshd, sshd_available


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    require(sshd_available(), "OpenSSH sshd is not installed (make test-deps)")
    with Sshd(tmp_path_factory.mktemp("diagnostics-sshd")) as server:
        yield server


async def add_server(client: Any, sshd: Sshd, name: str = "web-1", roles: tuple[str, ...] = ("admin",)) -> int:
    """Register the sshd as a server and pin its host key (as an admin does on the Servers page)."""
    body = {
        "name": name,
        "host": sshd.host,
        "port": sshd.port,
        "username": sshd.username,
        "auth_method": "key",
        "private_key": sshd.client_key,
        "allowed_roles": list(roles),
        "environment": "test",
    }
    created = await client.post("/api/ssh-servers", json=body)
    assert created.status_code == 201, created.text
    server_id = int(created.json()["id"])
    accepted = await client.post(
        f"/api/ssh-servers/{server_id}/host-key/accept", json={"fingerprint": sshd.host_key_fingerprint}
    )
    assert accepted.status_code == 200, accepted.text
    return server_id


async def run_pass(runner: DiagnosticsRunner) -> None:
    """One pass of the runner (expire, start approved runs), its runs to the end, then the follow-ups."""
    await runner.tick()
    await runner.idle()
    await runner.follow_up()


async def proposal(proposal_id: int) -> DiagnosticProposal:
    async with async_session() as session:
        row = await session.get(DiagnosticProposal, proposal_id)
        assert row is not None
        return row


async def proposals_of(alert_id: int) -> list[DiagnosticProposal]:
    async with async_session() as session:
        rows = await session.exec(
            select(DiagnosticProposal)
            .where(col(DiagnosticProposal.alert_id) == alert_id)
            .order_by(col(DiagnosticProposal.id))
        )
        return list(rows.all())


async def audit_events(prefix: str = "diagnostics.") -> list[AuditEvent]:
    async with async_session() as session:
        rows = await session.exec(
            select(AuditEvent).where(col(AuditEvent.action).startswith(prefix)).order_by(col(AuditEvent.id))
        )
        return list(rows.all())
