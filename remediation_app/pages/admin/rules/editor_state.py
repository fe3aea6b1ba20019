"""The rules page's editor (a part of AdminRulesState): the draft as typed, one message per field,
and saving it through services.rules.engine (validated, audited, version bumped).

A refused save keeps the draft as typed and names the field. Someone else's change since the rule
was opened is not overwritten silently: the first Save says so, the second one overwrites it.
"""

from __future__ import annotations

import reflex as rx
import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.db import TRANSIENT_DB_ERRORS, async_session
from remediation_app.models import Rule, RuleAction, User
from remediation_app.pages.admin.kit_state import AdminState
from remediation_app.services.rules import admin as rules_admin
from remediation_app.services.rules import dry_run as rules_dry_run
from remediation_app.services.rules.engine import FIELD_LABELS, RuleValidationError, save_rule
from remediation_app.state import UNAVAILABLE, client_address, parse_id

ACTIONS = [a.value for a in RuleAction]
MATCH_FIELDS = list(FIELD_LABELS.values())  # alertname, severity, instance, job
DRAFT_FIELDS = ["name", "description", "priority", "action", *MATCH_FIELDS, "labels"]
FORM_FIELDS = [*DRAFT_FIELDS, "enabled"]
MAX_FIELD_INPUT = 20_000
NOT_SAVED = "The rule was not saved: fix the marked field."


def blank_draft() -> dict[str, str]:
    return {**dict.fromkeys(DRAFT_FIELDS, ""), "priority": str(rules_admin.DEFAULT_PRIORITY), "action": "manual"}


def no_errors() -> dict[str, str]:
    return dict.fromkeys(FORM_FIELDS, "")


def form_field(engine_field: str) -> str:
    """The editor's field for a field named by RuleValidationError."""
    if engine_field in FIELD_LABELS:
        return FIELD_LABELS[engine_field]
    return "labels" if engine_field.startswith("label_patterns") else engine_field


class RuleEditorState(AdminState, mixin=True):
    editing: bool = False
    draft_id: str = ""
    draft: dict[str, str] = blank_draft()
    draft_enabled: bool = True
    field_errors: dict[str, str] = no_errors()
    _draft_version: str = ""  # the edited rule's updated_at when it was opened (or last overwritten)

    async def _reload(self) -> None:
        raise NotImplementedError  # the rule list (AdminRulesState)

    def _close_editor(self) -> None:
        self.editing, self.draft_id, self.draft = False, "", blank_draft()

    @rx.event
    async def new_rule(self):
        self.editing, self.draft_id, self.draft, self.draft_enabled = True, "", blank_draft(), True
        self.field_errors, self._draft_version = no_errors(), ""
        self.error = self.notice = ""

    @rx.event
    async def edit_rule(self, rule_id: str):
        try:
            async with async_session() as session:
                rule = await session.get(Rule, parse_id(rule_id) or 0)
        except TRANSIENT_DB_ERRORS:
            self._fail(UNAVAILABLE)
            return
        if rule is None:
            self._fail("That rule no longer exists.")
            await self._reload()
            return
        self.editing, self.draft_id, self.draft_enabled = True, str(rule.id), bool(rule.enabled)
        self.draft = {
            "name": rule.name,
            "description": rule.description or "",
            "priority": str(rule.priority),
            "action": rule.action,
            **{label: getattr(rule, attr) or "" for attr, label in FIELD_LABELS.items()},
            "labels": rules_dry_run.label_lines(rule.label_patterns or {}),
        }
        self.field_errors, self._draft_version = no_errors(), rule.updated_at.isoformat() if rule.updated_at else ""
        self.error = self.notice = ""

    @rx.event
    async def cancel_edit(self):
        self._close_editor()
        self.field_errors = no_errors()

    @rx.event
    async def set_draft_field(self, field: str, value: str):
        if field in DRAFT_FIELDS:
            self.draft = {**self.draft, field: str(value)[:MAX_FIELD_INPUT]}
            if self.field_errors.get(field):
                self.field_errors = {**self.field_errors, field: ""}
                if not any(self.field_errors.values()):
                    self.error = ""

    @rx.event
    async def toggle_draft_enabled(self, value: bool):
        self.draft_enabled = value is True or str(value).lower() == "true"

    def _draft_rule(self) -> Rule:
        """The draft as an unsaved Rule (id set when it edits one); RuleValidationError names the field."""
        draft = self.draft
        priority_text = draft.get("priority", "").strip()
        if not priority_text.lstrip("-").isdigit() or len(priority_text) > 12:
            raise RuleValidationError(
                "priority",
                f"must be a whole number between {rules_admin.MIN_PRIORITY} and {rules_admin.MAX_PRIORITY}",
            )
        rule = Rule(
            id=parse_id(self.draft_id) or None,
            name=draft.get("name", "").strip(),
            description=draft.get("description", ""),
            enabled=self.draft_enabled,
            priority=int(priority_text),
            action=draft.get("action", ""),
            label_patterns=rules_dry_run.parse_label_lines(draft.get("labels", "")),
        )
        for attr, label in FIELD_LABELS.items():
            setattr(rule, attr, draft.get(label, "").strip())
        return rule

    def _name_taken(self, name: str) -> None:
        self.field_errors = {**no_errors(), "name": f"a rule named {name!r} already exists"}

    async def _store_draft(self, session: AsyncSession, actor: User, draft: Rule) -> Rule | None:
        """Save the draft (the caller commits); None with field_errors/error set when refused."""
        if await rules_admin.name_taken(session, draft.name, except_id=draft.id):
            self._name_taken(draft.name)
            return None
        if draft.id is None:
            return await save_rule(session, draft, actor=actor, address=client_address(self))
        stored = await session.get(Rule, draft.id)
        if stored is None:
            self._fail("This rule was deleted meanwhile. Your draft is kept: Cancel, then create it again.")
            return None
        version = stored.updated_at.isoformat() if stored.updated_at else ""
        if self._draft_version and version != self._draft_version:
            self._draft_version = version
            self._fail("Someone else changed this rule since you opened it. Save again to overwrite their change.")
            return None
        for name in ("name", "description", "enabled", "priority", "action", "label_patterns", *FIELD_LABELS):
            setattr(stored, name, getattr(draft, name))
        return await save_rule(session, stored, actor=actor, address=client_address(self))

    @rx.event
    async def save_draft(self):
        self.field_errors = no_errors()
        try:
            draft = self._draft_rule()
            rules_admin.check_rule(draft)
        except RuleValidationError as exc:
            self.field_errors = {**no_errors(), form_field(exc.field): exc.message}
            self._fail(NOT_SAVED)
            return
        try:
            async with async_session() as session:
                saved = await self._store_draft(session, self._actor(), draft)
                if saved is None:
                    if any(self.field_errors.values()):
                        self._fail(NOT_SAVED)
                    return
                await session.commit()
        except sa.exc.IntegrityError:
            self._name_taken(draft.name)
            self._fail(NOT_SAVED)
            return
        except TRANSIENT_DB_ERRORS:
            self._fail(UNAVAILABLE + " Your draft is kept.")
            return
        self._close_editor()
        self._draft_version = ""
        self._done(f"Saved rule {draft.name}.")
        await self._reload()
