"""The diagnostics policy page's state (admins only): the YAML in an editor (load, download, validate,
save after a confirmation that names every widening), and a dry run of a command for a registered
server against the draft in the editor. Saving goes through services.diagnostics.policy_store
(validated, versioned, audited); a refused document changes nothing and says why, line by line.
"""

from __future__ import annotations

import reflex as rx
import sqlalchemy as sa

from remediation_app.db import TRANSIENT_DB_ERRORS, async_session
from remediation_app.pages.admin.kit_state import AdminState
from remediation_app.services.diagnostics import policy_store
from remediation_app.services.diagnostics.check import MAX_COMMAND_CHARS, check_command
from remediation_app.services.diagnostics.policy import MAX_DOCUMENT_BYTES, PolicyError
from remediation_app.services.diagnostics.policy_default import DEFAULT_POLICY
from remediation_app.services.diagnostics.proposals import registered_server
from remediation_app.services.diagnostics.widening import widenings
from remediation_app.services.terminal.servers import list_servers
from remediation_app.state import UNAVAILABLE, client_address

REFUSED = "The policy was refused; nothing changed."


class AdminPolicyState(AdminState, rx.State):
    document: str = ""
    loaded: bool = False
    version: int = 0  # the version in the editor was loaded from (saving refuses if another is in force)
    in_force: str = ""  # "version 3, saved by alice at ..." or "the shipped default"
    broken: str = ""
    errors: list[str] = []
    widened: list[str] = []  # what saving the draft would allow that the policy in force does not
    save_open: bool = False
    servers: list[str] = []
    dry_server: str = ""
    dry_command: str = ""
    dry_allowed: bool = False
    dry_reason: str = ""
    dry_runs: str = ""

    async def _load(self) -> None:
        try:
            async with async_session() as session:
                current = await policy_store.current(session)
                names = [row.name for row in await list_servers(session)]
        except TRANSIENT_DB_ERRORS:
            self._fail(UNAVAILABLE)
            return
        self.document, self.version, self.broken = current.document, current.version, current.broken
        self.in_force = (
            "the shipped default (version 0): no admin saved a policy yet"
            if current.is_default
            else f"version {current.version}, saved by {current.updated_by}"
            + (f" at {current.updated_at:%Y-%m-%d %H:%M} UTC" if current.updated_at else "")
        )
        self.servers, self.errors, self.widened, self.loaded = names, [], [], True
        if self.dry_server not in names:
            self.dry_server = names[0] if names else ""

    @rx.event
    async def type_document(self, value: str):
        self.document = str(value)[: MAX_DOCUMENT_BYTES + 1]

    @rx.event
    async def start_from_default(self):
        """The shipped read-only policy in the editor (saved only with Save)."""
        self.document, self.errors, self.widened = DEFAULT_POLICY, [], []
        self._done("The shipped default is in the editor; Save puts it in force.")

    @rx.event
    async def download(self):
        return rx.download(data=self.document, filename="diagnostics-policy.yaml", mime_type="application/yaml")

    async def _check(self) -> bool:
        """Parse the draft; show its errors, or what it would widen. False when it cannot be saved."""
        self.errors, self.widened = [], []
        try:
            draft = await policy_store.parsed(self.document)
        except PolicyError as exc:
            self.errors = exc.errors
            self._fail(REFUSED)
            return False
        try:
            async with async_session() as session:
                current = await policy_store.current(session)
        except TRANSIENT_DB_ERRORS:
            self._fail(UNAVAILABLE)
            return False
        self.widened = widenings(current.policy, draft)
        return True

    @rx.event
    async def validate(self):
        if await self._check():
            more = f"; it allows {len(self.widened)} thing(s) more than the policy in force" if self.widened else ""
            self._done(f"The policy is valid{more}.")

    @rx.event
    async def ask_save(self):
        self.save_open = await self._check()

    @rx.event
    async def close_save(self, open_: bool = False):
        self.save_open = bool(open_) and self.save_open

    @rx.event
    async def confirm_save(self):
        self.save_open = False
        try:
            async with async_session() as session:
                actor, address = self._actor(), client_address(self)
                saved = await policy_store.save_policy(
                    session, self.document, actor=actor, address=address, expected_version=self.version
                )
                await session.commit()
        except PolicyError as exc:
            self.errors = exc.errors
            self._fail(REFUSED)
            return
        except (policy_store.PolicyConflict, sa.exc.IntegrityError):
            self._fail("Another admin saved the policy meanwhile; nothing changed. Reload it and edit again.")
            return
        except TRANSIENT_DB_ERRORS:
            self._fail(UNAVAILABLE)
            return
        widened = saved.widened
        await self._load()
        self.widened = widened
        note = f" It widens the policy ({len(widened)} change(s), audited)." if widened else ""
        self._done(f"Saved version {saved.current.version}.{note}")

    @rx.event
    async def pick_server(self, value: str):
        self.dry_server = str(value)[:100]

    @rx.event
    async def type_command(self, value: str):
        self.dry_command = str(value)[: MAX_COMMAND_CHARS * 2]

    @rx.event
    async def dry_run(self):
        """The draft's verdict on the command for the chosen server (nothing runs, nothing is saved)."""
        self.dry_allowed, self.dry_reason, self.dry_runs = False, "", ""
        try:
            draft = await policy_store.parsed(self.document)
        except PolicyError as exc:
            self.errors = exc.errors
            self.dry_reason = "The draft is not a valid policy (see its errors)."
            return
        try:
            async with async_session() as session:
                server = await registered_server(session, self.dry_server)
        except TRANSIENT_DB_ERRORS:
            self.dry_reason = UNAVAILABLE
            return
        if server is None:
            self.dry_reason = "Pick a registered server."
            return
        verdict = check_command(draft, self.dry_command, server_name=server.name, environment=server.environment)
        self.dry_allowed, self.dry_reason, self.dry_runs = verdict.allowed, verdict.reason, verdict.command
