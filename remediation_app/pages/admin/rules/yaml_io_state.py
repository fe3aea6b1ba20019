"""The rules page's YAML import and export (a part of AdminRulesState), through services.rules.io.

Import replaces the whole rule set in one transaction with one audit event, after Validate shows
what it would leave and a confirmation; a refused document changes nothing and says why per line.
"""

from __future__ import annotations

import reflex as rx
import sqlalchemy as sa

from remediation_app.db import TRANSIENT_DB_ERRORS, async_session
from remediation_app.models import Rule
from remediation_app.pages.admin.kit_state import AdminState
from remediation_app.services.rules import io as rules_io
from remediation_app.state import UNAVAILABLE, client_address

REFUSED = "The YAML was refused; nothing changed."


class RuleYamlState(AdminState, mixin=True):
    yaml_text: str = ""
    yaml_errors: list[str] = []
    yaml_warnings: list[str] = []
    yaml_plan: str = ""
    import_open: bool = False

    async def _reload(self) -> None:
        raise NotImplementedError  # the rule list (AdminRulesState)

    @rx.event
    async def type_yaml(self, value: str):
        self.yaml_text = str(value)[: rules_io.MAX_DOCUMENT_BYTES + 1]

    async def _export(self) -> str | None:
        try:
            async with async_session() as session:
                return await rules_io.export_rules(session)
        except TRANSIENT_DB_ERRORS:
            self._fail(UNAVAILABLE)
            return None

    @rx.event
    async def load_yaml(self):
        document = await self._export()
        if document is not None:
            self.yaml_text, self.yaml_errors, self.yaml_warnings, self.yaml_plan = document, [], [], ""

    @rx.event
    async def download_yaml(self):
        document = await self._export()
        if document is None:
            return None
        return rx.download(data=document, filename="rules.yaml", mime_type="application/yaml")

    def _parse(self) -> list[Rule] | None:
        """The document's rules, its errors and warnings shown (None, with the refusal, if it has errors)."""
        parsed = rules_io.parse_rules(self.yaml_text)
        self.yaml_errors, self.yaml_warnings = parsed.errors, parsed.warnings
        if not parsed.ok:
            self._fail(REFUSED)
            return None
        return parsed.rules

    async def _check_yaml(self) -> bool:
        """Parse the document and show what importing it would leave; False when it cannot be imported."""
        self.yaml_plan = ""
        rules = self._parse()
        if rules is None:
            return False
        try:
            async with async_session() as session:
                plan = await rules_io.plan_import(session, rules)
        except TRANSIENT_DB_ERRORS:
            self._fail(UNAVAILABLE)
            return False
        self.yaml_plan = f"{len(rules)} rules: importing would leave {plan.summary()}."
        return True

    @rx.event
    async def validate_yaml(self):
        if await self._check_yaml():
            self._done("The YAML is valid.")

    @rx.event
    async def ask_import(self):
        self.import_open = await self._check_yaml()

    @rx.event
    async def close_import(self, open_: bool = False):
        self.import_open = bool(open_) and self.import_open

    @rx.event
    async def confirm_import(self):
        self.import_open = False
        rules = self._parse()
        if rules is None:
            return
        try:
            async with async_session() as session:
                plan = await rules_io.import_rules(session, rules, actor=self._actor(), address=client_address(self))
                await session.commit()
        except sa.exc.IntegrityError:
            self._fail("Another change to the rules happened at the same time; nothing changed. Try again.")
            return
        except TRANSIENT_DB_ERRORS:
            self._fail(UNAVAILABLE)
            return
        self.yaml_plan = ""
        self._done(f"Imported {len(rules)} rules: {plan.summary()}.")
        await self._reload()
