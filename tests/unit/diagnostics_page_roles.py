"""Role decisions for the diagnostics handlers (the alert page's Diagnostics section, the dashboard's
waiting badge, the policy admin page), registered into test_reflex_handlers_roles.DECISIONS (that
module imports this one).

Proposals: anonymous sees nothing and decides nothing; a user sees them but may not approve for a
server their role may not open (refused, audited, nothing changes); an admin approves and rejects.
The policy page: anonymous and user are refused (sent away, the tab forgets, no policy or audit
event changes); the admin's call does what it says.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

from sqlmodel import col, func, select

from remediation_app.db import async_session
from remediation_app.models import AuditEvent, DiagnosticPolicy, DiagnosticProposal, SSHServer, utcnow
from remediation_app.pages.alerts.proposals_state import ProposalView
from remediation_app.services.diagnostics.policy_default import DEFAULT_POLICY
from remediation_app.services.diagnostics.proposals import Origin, propose
from tests.support.sshd import new_key, public_line
from tests.unit.test_reflex_handlers_roles import (
    DECISIONS,
    ROLES,
    World,
    _setvar,
    _state_cls,
    call,
    decides,
    expect_refused,
    redirect_of,
)

SERVER = "roles-srv"
ALERT_PAGE = "AlertProposalsState"
WAITING = "ProposalsWaitingState"
POLICY = "AdminPolicyState"


async def ensure_server() -> None:
    async with async_session() as session:
        if (await session.exec(select(SSHServer).where(col(SSHServer.name) == SERVER))).first() is None:
            now = utcnow()
            session.add(
                SSHServer(
                    name=SERVER,
                    host="127.0.0.1",
                    username="root",
                    allowed_roles=["admin"],
                    host_key=public_line(new_key()),
                    created_at=now,
                    updated_at=now,
                )
            )
            await session.commit()


async def a_proposal(w: World, command: str) -> int:
    await ensure_server()
    async with async_session() as session:
        row = await propose(
            session, alert_id=w.alert_id, server=SERVER, command=command, reason="roles", origin=Origin("analysis")
        )
        await session.commit()
    assert row.id is not None and row.status == "pending"
    return row.id


async def snapshot() -> dict[str, Any]:
    async with async_session() as session:
        proposals = (await session.exec(select(DiagnosticProposal.id, DiagnosticProposal.status))).all()
        policies = (await session.exec(select(DiagnosticPolicy.version))).all()
        events = (await session.exec(select(func.count()).select_from(AuditEvent))).one()
    return {"proposals": sorted(tuple(p) for p in proposals), "policies": list(policies), "audit": events}


def alert_tab(w: World, cls: str, role: str) -> Any:
    return w.state(_state_cls(cls), role, path=f"/alerts/{w.alert_id}", query={"alert_id": str(w.alert_id)})


DECISIONS[(ALERT_PAGE, "setvar")] = functools.partial(
    _setvar, cls_name=ALERT_PAGE, protected=lambda s: bool(s.proposals or s.notes)
)
DECISIONS[(WAITING, "setvar")] = functools.partial(_setvar, cls_name=WAITING, protected=lambda s: bool(s.waiting))


@decides((ALERT_PAGE, "watch"))
async def _watch(w: World, _name: str) -> None:
    proposal_id = await a_proposal(w, "uptime")
    for role in ROLES:
        page = alert_tab(w, ALERT_PAGE, role)
        await call(page, "watch")
        if role == "anonymous":
            assert page.proposals == []
            continue
        [shown] = [p for p in page.proposals if p.id == str(proposal_id)]
        assert (shown.server, shown.command, shown.status) == (SERVER, "uptime", "pending")
        assert shown.may_decide is (role == "admin")  # the server is admin-only


@decides((WAITING, "watch"))
async def _waiting(w: World, _name: str) -> None:
    await a_proposal(w, "free -m")
    for role in ROLES:
        badge = w.state(_state_cls(WAITING), role)
        await call(badge, "watch")
        assert badge.waiting == (0 if role == "anonymous" else 1)


@decides((ALERT_PAGE, "set_note"))
async def _note(w: World, _name: str) -> None:
    """Only the tab's own box beside a pending proposal it shows; nothing is stored."""
    before = await snapshot()
    for role in ROLES:
        page = alert_tab(w, ALERT_PAGE, role)
        page.proposals = [ProposalView(id="7", status="pending", may_decide=True)]
        await call(page, "set_note", "7", "x" * 5000)
        await call(page, "set_note", "8", "not shown")
        assert page.notes == {"7": "x" * 1000}
    assert await snapshot() == before


@decides((ALERT_PAGE, "approve"), (ALERT_PAGE, "reject"))
async def _decide(w: World, name: str) -> None:
    proposal_id = await a_proposal(w, "df -h" if name == "approve" else "lsblk")
    for role in ROLES:
        page = alert_tab(w, ALERT_PAGE, role)
        page.proposals, page._shown_alert = [ProposalView(id=str(proposal_id), may_decide=True)], w.alert_id
        page.notes = {str(proposal_id): "from the roles test"}
        before = await snapshot()
        result = await call(page, name, str(proposal_id))
        async with async_session() as session:
            row = await session.get(DiagnosticProposal, proposal_id)
        assert row is not None
        if role == "anonymous":
            assert redirect_of(result) == f"/login?next=/alerts/{w.alert_id}"
            assert page.proposals == [] and await snapshot() == before
        elif role == "user":
            assert page.error == f"your role may not run commands on {SERVER}" and row.status == "pending"
            async with async_session() as session:
                event = (await session.exec(select(AuditEvent).order_by(col(AuditEvent.id).desc()))).first()
            assert event is not None and (event.actor, event.success) == ("roles-user", False)
        else:
            assert page.error == "" and row.status == ("approved" if name == "approve" else "rejected")
            assert (row.decided_by, row.note) == ("roles-admin", "from the roles test")


# --- the policy page ----------------------------------------------------------------------------


def policy_shows_anything(page: Any) -> bool:
    return bool(page.document or page.loaded or page.servers or page.errors or page.widened or page.dry_reason)


DECISIONS[(POLICY, "setvar")] = functools.partial(_setvar, cls_name=POLICY, protected=policy_shows_anything)


async def as_each_role(
    w: World,
    name: str,
    args: list[Any],
    admin_sees: Callable[[Any, Any], Awaitable[None]],
    prepare: Callable[[Any], None] = lambda page: None,
) -> None:
    await ensure_server()
    before = await snapshot()
    for role in ROLES:
        page = w.state(_state_cls(POLICY), role, path="/admin/diagnostics")
        prepare(page)
        result = await call(page, name, *args)
        if role == "admin":
            assert redirect_of(result) is None, result
            await admin_sees(page, result)
        else:
            expect_refused(result, role)
            assert not policy_shows_anything(page), (name, role)
            assert await snapshot() == before, (name, role)


def _drafted(page: Any) -> None:
    page.document, page.dry_server, page.dry_command = DEFAULT_POLICY, SERVER, "df -h"


@decides((POLICY, "load"))
async def _load(w: World, name: str) -> None:
    async def shown(page: Any, _result: Any) -> None:
        assert page.loaded and page.document == DEFAULT_POLICY and page.version == 0 and SERVER in page.servers

    await as_each_role(w, name, [], shown)


@decides((POLICY, "type_document"), (POLICY, "start_from_default"), (POLICY, "pick_server"), (POLICY, "type_command"))
async def _setters(w: World, name: str) -> None:
    args = [] if name == "start_from_default" else ["typed"]

    async def typed(page: Any, _result: Any) -> None:
        value = {"type_document": page.document, "pick_server": page.dry_server, "type_command": page.dry_command}
        assert value.get(name, page.document) == ("typed" if args else DEFAULT_POLICY)

    await as_each_role(w, name, args, typed)


@decides((POLICY, "download"), (POLICY, "validate"), (POLICY, "ask_save"), (POLICY, "close_save"))
async def _checks(w: World, name: str) -> None:
    def prepare(page: Any) -> None:
        _drafted(page)
        page.save_open = name == "close_save"

    async def checked(page: Any, result: Any) -> None:
        if name == "download":
            assert result is not None
        assert page.errors == [] and page.save_open is (name == "ask_save")
        if name == "validate":
            assert page.notice == "The policy is valid."

    await as_each_role(w, name, [False] if name == "close_save" else [], checked, prepare)


@decides((POLICY, "confirm_save"))
async def _save(w: World, name: str) -> None:
    narrower = DEFAULT_POLICY.replace("      mount:\n        operands: {max: 0}\n", "")

    def prepare(page: Any) -> None:
        page.document, page.version = narrower, 0

    async def saved(page: Any, _result: Any) -> None:
        assert page.notice == "Saved version 1." and page.version == 1
        async with async_session() as session:
            event = (await session.exec(select(AuditEvent).order_by(col(AuditEvent.id).desc()))).first()
        assert event is not None and (event.action, event.actor) == ("diagnostics.policy", "roles-admin")

    await as_each_role(w, name, [], saved, prepare)


@decides((POLICY, "dry_run"))
async def _dry_run(w: World, name: str) -> None:
    async def judged(page: Any, _result: Any) -> None:
        assert page.dry_allowed and page.dry_runs == "df -h"

    await as_each_role(w, name, [], judged, _drafted)
