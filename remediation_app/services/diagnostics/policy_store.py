"""The policy in force: the document an admin saved (one row, versioned), else the shipped default
(version 0). Saving is validated, audited (as a widening when it allows anything more, each widening
named), and refused when someone else saved a newer version meanwhile."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.models import DiagnosticPolicy, SSHServer, User, utcnow
from remediation_app.services import audit
from remediation_app.services.diagnostics.check import Verdict, check_command
from remediation_app.services.diagnostics.policy import Policy, PolicyError, parse_policy
from remediation_app.services.diagnostics.policy_default import DEFAULT_POLICY
from remediation_app.services.diagnostics.widening import widenings
from remediation_app.services.records import columns

log = logging.getLogger(__name__)
POLICY_ROW = 1
DEFAULT_VERSION = 0
POLICIES = DiagnosticPolicy.__table__  # type: ignore[attr-defined]
_parsed: dict[str, Policy] = {}  # by the document's SHA-256: parsing is not free, documents rarely change
NOTHING_ALLOWED = Policy(groups=())
PARSE_IN_THREAD = 16_000  # characters (the shipped default is about 9,000)


class PolicyConflict(Exception):
    """Another admin saved the policy since this one was loaded."""


@dataclass(frozen=True)
class PolicyInForce:
    policy: Policy
    document: str
    version: int
    updated_by: str = ""
    updated_at: datetime | None = None
    broken: str = ""  # a stored document this code cannot read: nothing is allowed until it is fixed

    @property
    def is_default(self) -> bool:
        return self.version == DEFAULT_VERSION


@dataclass(frozen=True)
class Saved:
    current: PolicyInForce
    widened: list[str] = field(default_factory=list)


async def parsed(document: str) -> Policy:
    """The policy of a document (PolicyError if it is not one), cached by content. A large document
    is parsed in a thread (YAML parsing is pure Python, about a second for the largest allowed)."""
    digest = hashlib.sha256(document.encode("utf-8", "surrogatepass")).hexdigest()
    policy = _parsed.get(digest)
    if policy is None:
        policy = (
            await asyncio.to_thread(parse_policy, document)
            if len(document) > PARSE_IN_THREAD
            else parse_policy(document)
        )
        if len(_parsed) > 8:
            _parsed.clear()
        _parsed[digest] = policy
    return policy


async def current(session: AsyncSession) -> PolicyInForce:
    row = await session.get(DiagnosticPolicy, POLICY_ROW)
    if row is None:
        return PolicyInForce(await parsed(DEFAULT_POLICY), DEFAULT_POLICY, DEFAULT_VERSION)
    try:
        policy, broken = await parsed(row.document), ""
    except PolicyError as exc:
        log.error("the stored diagnostics policy v%s cannot be read: %s; nothing is allowed", row.version, exc)
        policy, broken = NOTHING_ALLOWED, f"the stored policy cannot be read ({exc}): every command is refused"
    return PolicyInForce(policy, row.document, row.version, row.updated_by, row.updated_at, broken)


async def save_policy(
    session: AsyncSession, document: str, *, actor: User, address: str = "", expected_version: int | None = None
) -> Saved:
    """Replace the policy (PolicyError: nothing changes). `expected_version`: the version the admin
    edited; PolicyConflict when another one is in force now. The caller commits."""
    policy = await parsed(document)
    before = await current(session)
    if expected_version is not None and expected_version != before.version:
        raise PolicyConflict(
            f"the policy was changed meanwhile (version {before.version} is in force, you edited {expected_version})"
        )
    widened = widenings(before.policy, policy)
    now, version = utcnow(), before.version + 1
    row = DiagnosticPolicy(id=POLICY_ROW, version=version, document=document, updated_by=actor.username[:150])
    row.updated_at = now
    if before.is_default:
        session.add(row)
        await session.flush()  # two first saves at once: the second fails here (IntegrityError)
    else:
        values = columns(row, "version", "document", "updated_by", "updated_at")
        same = sa.and_(POLICIES.c.id == POLICY_ROW, POLICIES.c.version == before.version)
        changed = await session.exec(sa.update(POLICIES).where(same).values(**values))
        if not changed.rowcount:
            raise PolicyConflict("the policy was changed meanwhile; load it again")
    audit.record(
        session,
        action="diagnostics.policy.widen" if widened else "diagnostics.policy",
        actor=actor,
        target=f"diagnostics policy v{version}",
        address=address,
        details={
            "version": version,
            "previous_version": before.version,
            "widened": widened[:50],
            "groups": [group.name for group in policy.groups],
            "bytes": len(document.encode("utf-8", "surrogatepass")),
        },
    )
    return Saved(PolicyInForce(policy, document, version, actor.username, now), widened)


async def dry_run(session: AsyncSession, *, server: str, command: str, document: str | None = None) -> Verdict:
    """The verdict on `command` for the registered server named `server` (its environment decides
    too), under `document` (a draft; PolicyError if it is not a policy) or the policy in force."""
    policy = await parsed(document) if document is not None else (await current(session)).policy
    row = (await session.exec(select(SSHServer).where(col(SSHServer.name) == server))).first()
    if row is None:
        return Verdict(False, f"no registered server is named {server[:100]!r}")
    return check_command(policy, command, server_name=row.name, environment=row.environment)
