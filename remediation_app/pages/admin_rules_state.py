"""The rules page's state (admins only): the rule list with hit counters, the editor's draft, the
dry run ("Test") against the rules including the unsaved draft, and YAML import/export.

Every handler checks the admin on the server first (the page's on_load is only a convenience).
Changes go through services.rules (save_rule/delete_rule: validated, audited, version bumped)
and services.rules_io (import: one transaction, one audit event). A refused change keeps the
draft as typed and names the field. Rules and alert labels are not secret; nothing else is held.
"""

from __future__ import annotations

from typing import Any

import reflex as rx
import sqlalchemy as sa
from reflex.event import EventSpec
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.db import TRANSIENT_DB_ERRORS, async_session
from remediation_app.models import Alert, Rule, RuleAction, User
from remediation_app.services import rules_admin, rules_dry_run, rules_io
from remediation_app.services.rules import (
    FIELD_LABELS,
    RuleValidationError,
    delete_rule,
    list_rules,
    save_rule,
)
from remediation_app.state import admin_or_refusal, client_address

UNAVAILABLE = "The database is unavailable; try again in a moment."
ACTIONS = [a.value for a in RuleAction]
MATCH_FIELDS = list(FIELD_LABELS.values())  # alertname, severity, instance, job
DRAFT_FIELDS = ["name", "description", "priority", "action", *MATCH_FIELDS, "labels"]
FORM_FIELDS = [*DRAFT_FIELDS, "enabled"]
MAX_FIELD_INPUT = 20_000


def _blank_draft() -> dict[str, str]:
    return {**dict.fromkeys(DRAFT_FIELDS, ""), "priority": str(rules_admin.DEFAULT_PRIORITY), "action": "manual"}


def _no_errors() -> dict[str, str]:
    return dict.fromkeys(FORM_FIELDS, "")


def _form_field(engine_field: str) -> str:
    """The editor's field for a field named by RuleValidationError."""
    if engine_field in FIELD_LABELS:
        return FIELD_LABELS[engine_field]
    return "labels" if engine_field.startswith("label_patterns") else engine_field


def _rule_row(rule: Rule, hits: rules_admin.RuleHits | None, position: int, count: int) -> dict[str, str]:
    return {
        "id": str(rule.id),
        "name": rule.name,
        "description": rule.description or "",
        "priority": str(rule.priority),
        "enabled": "yes" if rule.enabled else "no",
        "action": rule.action,
        "match": rules_dry_run.match_summary(rule),
        "hits": str(hits.count if hits else 0),
        "last_hit": hits.last.isoformat() if hits and hits.last else "",
        "first": "yes" if position == 0 else "",
        "last": "yes" if position == count - 1 else "",
    }


def _rule_id(value: object) -> int:
    text = str(value)
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 10 else 0


class AdminRulesState(rx.State):
    rules: list[dict[str, str]] = []
    error: str = ""
    notice: str = ""
    # The editor: the draft as typed (never lost on a refused save), and one message per field.
    editing: bool = False
    draft_id: str = ""
    draft: dict[str, str] = _blank_draft()
    draft_enabled: bool = True
    field_errors: dict[str, str] = _no_errors()
    # The delete confirmation.
    delete_open: bool = False
    delete_id: str = ""
    delete_name: str = ""
    # The dry run.
    recent: list[dict[str, str]] = []
    test_alert_id: str = ""
    test_payload: str = ""
    test_error: str = ""
    test_note: str = ""
    test_results: list[dict[str, str]] = []
    test_selected: int = 0
    test_trace: list[dict[str, str]] = []
    # YAML import/export.
    yaml_text: str = ""
    yaml_errors: list[str] = []
    yaml_warnings: list[str] = []
    yaml_plan: str = ""
    import_open: bool = False

    _traces: list[list[dict[str, str]]] = []
    _draft_version: str = ""  # the edited rule's updated_at when it was opened (or last overwritten)

    def _forget(self) -> None:
        self.reset()  # type: ignore[no-untyped-call]  # every var back to its default: nothing of the rules page stays in this tab

    async def _admin(self) -> User | EventSpec:
        """The admin, or (after forgetting everything shown) the redirect refusing this tab."""
        outcome = await admin_or_refusal(self)
        if not isinstance(outcome, User):
            self._forget()
        return outcome

    def _fail(self, message: str) -> None:
        self.error, self.notice = message, ""

    def _done(self, message: str) -> None:
        self.error, self.notice = "", message

    async def _reload(self) -> None:
        try:
            async with async_session() as session:
                stored = await list_rules(session)
                hits = await rules_admin.rule_hits(session)
                recent = await rules_admin.recent_alerts(session)
        except TRANSIENT_DB_ERRORS:
            self.error = UNAVAILABLE
            return
        self.rules = [_rule_row(r, hits.get(r.id or 0), n, len(stored)) for n, r in enumerate(stored)]
        self.recent = [
            {
                "id": str(a.id),
                "label": f"#{a.id} {a.alertname or '(no alertname)'} {a.instance} · {a.severity or '-'} · "
                f"{a.status} · {a.first_received_at:%Y-%m-%d %H:%M}"[:160],
            }
            for a in recent
        ]
        if self.test_alert_id not in {row["id"] for row in self.recent}:
            self.test_alert_id = self.recent[0]["id"] if self.recent else ""

    @rx.event
    async def load(self):
        if not isinstance(admin := await self._admin(), User):
            return admin
        self.error = self.notice = ""
        await self._reload()
        return None

    @rx.event
    async def refresh(self):
        if not isinstance(admin := await self._admin(), User):
            return admin
        self.error = ""
        await self._reload()
        return None

    # ----- the editor -----

    @rx.event
    async def new_rule(self):
        if not isinstance(admin := await self._admin(), User):
            return admin
        self.editing, self.draft_id, self.draft, self.draft_enabled = True, "", _blank_draft(), True
        self.field_errors, self._draft_version = _no_errors(), ""
        self.error = self.notice = ""
        return None

    @rx.event
    async def edit_rule(self, rule_id: str):
        if not isinstance(admin := await self._admin(), User):
            return admin
        try:
            async with async_session() as session:
                rule = await session.get(Rule, _rule_id(rule_id))
        except TRANSIENT_DB_ERRORS:
            self._fail(UNAVAILABLE)
            return None
        if rule is None:
            self._fail("That rule no longer exists.")
            await self._reload()
            return None
        self.editing, self.draft_id, self.draft_enabled = True, str(rule.id), bool(rule.enabled)
        self.draft = {
            "name": rule.name,
            "description": rule.description or "",
            "priority": str(rule.priority),
            "action": rule.action,
            **{label: getattr(rule, attr) or "" for attr, label in FIELD_LABELS.items()},
            "labels": rules_dry_run.label_lines(rule.label_patterns or {}),
        }
        self.field_errors, self._draft_version = _no_errors(), rule.updated_at.isoformat() if rule.updated_at else ""
        self.error = self.notice = ""
        return None

    @rx.event
    async def cancel_edit(self):
        if not isinstance(admin := await self._admin(), User):
            return admin
        self.editing, self.draft_id, self.draft, self.field_errors = False, "", _blank_draft(), _no_errors()
        return None

    @rx.event
    async def set_draft_field(self, field: str, value: str):
        if not isinstance(admin := await self._admin(), User):
            return admin
        if field in DRAFT_FIELDS:
            self.draft = {**self.draft, field: str(value)[:MAX_FIELD_INPUT]}
            if self.field_errors.get(field):
                self.field_errors = {**self.field_errors, field: ""}
                if not any(self.field_errors.values()):
                    self.error = ""
        return None

    @rx.event
    async def toggle_draft_enabled(self, value: bool):
        if not isinstance(admin := await self._admin(), User):
            return admin
        self.draft_enabled = value is True or str(value).lower() == "true"
        return None

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
            id=_rule_id(self.draft_id) or None,
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

    async def _store_draft(self, session: AsyncSession, actor: User, draft: Rule) -> Rule | None:
        """Save the draft (the caller commits); None with field_errors/error set when refused."""
        if await rules_admin.name_taken(session, draft.name, except_id=draft.id):
            self.field_errors = {**_no_errors(), "name": f"a rule named {draft.name!r} already exists"}
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
        if not isinstance(admin := await self._admin(), User):
            return admin
        self.field_errors = _no_errors()
        try:
            draft = self._draft_rule()
            rules_admin.check_rule(draft)
        except RuleValidationError as exc:
            self.field_errors = {**_no_errors(), _form_field(exc.field): exc.message}
            self._fail("The rule was not saved: fix the marked field.")
            return None
        try:
            async with async_session() as session:
                saved = await self._store_draft(session, admin, draft)
                if saved is None:
                    if any(self.field_errors.values()):
                        self._fail("The rule was not saved: fix the marked field.")
                    return None
                await session.commit()
        except sa.exc.IntegrityError:
            self.field_errors = {**_no_errors(), "name": f"a rule named {draft.name!r} already exists"}
            self._fail("The rule was not saved: fix the marked field.")
            return None
        except TRANSIENT_DB_ERRORS:
            self._fail(UNAVAILABLE + " Your draft is kept.")
            return None
        self.editing, self.draft_id, self.draft, self._draft_version = False, "", _blank_draft(), ""
        self._done(f"Saved rule {draft.name}.")
        await self._reload()
        return None

    # ----- the list: enable, reorder, delete -----

    async def _change_rules(self, change: Any, done: str) -> None:
        """Run `change(session, admin)` (returns an error message or ""), commit, show, reload."""
        try:
            async with async_session() as session:
                problem = await change(session)
                if problem:
                    self._fail(problem)
                else:
                    await session.commit()
                    self._done(done)
        except TRANSIENT_DB_ERRORS:
            self._fail(UNAVAILABLE)
        await self._reload()

    @rx.event
    async def set_enabled(self, rule_id: str, enabled: bool):
        if not isinstance(admin := await self._admin(), User):
            return admin
        target, enabled = _rule_id(rule_id), enabled is True or str(enabled).lower() == "true"

        async def change(session: AsyncSession) -> str:
            rule = await session.get(Rule, target)
            if rule is None:
                return "That rule no longer exists."
            rule.enabled = enabled
            await save_rule(session, rule, actor=admin, address=client_address(self))
            return ""

        await self._change_rules(change, "Rule enabled." if enabled else "Rule disabled.")
        return None

    @rx.event
    async def move(self, rule_id: str, offset: int):
        if not isinstance(admin := await self._admin(), User):
            return admin
        target, step = _rule_id(rule_id), -1 if int(offset) < 0 else 1

        async def change(session: AsyncSession) -> str:
            stored = await list_rules(session)
            planned = rules_admin.plan_move(stored, target, step)
            if not planned:
                return "That rule cannot move further." if any(r.id == target for r in stored) else "No such rule."
            for rule in stored:
                if rule.id in planned:
                    rule.priority = planned[rule.id]
                    await save_rule(session, rule, actor=admin, address=client_address(self))
            return ""

        await self._change_rules(change, "Rule moved up." if step < 0 else "Rule moved down.")
        return None

    @rx.event
    async def ask_delete(self, rule_id: str):
        if not isinstance(admin := await self._admin(), User):
            return admin
        row = next((r for r in self.rules if r["id"] == str(_rule_id(rule_id))), None)
        if row is None:
            self._fail("No such rule.")
            return None
        self.delete_open, self.delete_id, self.delete_name = True, row["id"], row["name"]
        return None

    @rx.event
    async def close_delete(self, open_: bool = False):
        if not isinstance(admin := await self._admin(), User):
            return admin
        if not open_:
            self.delete_open, self.delete_id, self.delete_name = False, "", ""
        return None

    @rx.event
    async def confirm_delete(self):
        if not isinstance(admin := await self._admin(), User):
            return admin
        target, name = _rule_id(self.delete_id), self.delete_name
        self.delete_open, self.delete_id, self.delete_name = False, "", ""

        async def change(session: AsyncSession) -> str:
            deleted = await delete_rule(session, target, actor=admin, address=client_address(self))
            return "" if deleted else "That rule no longer exists."

        await self._change_rules(change, f"Deleted rule {name}.")
        if self.draft_id == str(target):
            self.editing, self.draft_id = False, ""
        return None

    # ----- the dry run -----

    @rx.event
    async def pick_test_alert(self, value: str):
        if not isinstance(admin := await self._admin(), User):
            return admin
        self.test_alert_id = str(value)
        return None

    @rx.event
    async def type_test_payload(self, value: str):
        if not isinstance(admin := await self._admin(), User):
            return admin
        self.test_payload = str(value)[: rules_dry_run.MAX_PAYLOAD_BYTES + 1]
        return None

    @rx.event
    async def select_result(self, index: int):
        if not isinstance(admin := await self._admin(), User):
            return admin
        if 0 <= int(index) < len(self._traces):
            self.test_selected = int(index)
            self.test_trace = self._traces[self.test_selected]
        return None

    def _clear_test(self, error: str = "") -> None:
        self.test_error, self.test_note, self.test_results, self.test_trace, self._traces = error, "", [], [], []
        self.test_selected = 0

    async def _explain(self, alerts: list[tuple[str, dict[str, str]]]) -> None:
        """Explain each (description, labels) against the stored rules with the open draft in place."""
        draft: Rule | None = None
        if self.editing:
            try:
                draft = self._draft_rule()
            except RuleValidationError as exc:
                self._clear_test(f"The draft cannot be tested: {_form_field(exc.field)}: {exc.message}")
                return
            draft.name = (draft.name or "new rule") + rules_dry_run.DRAFT_SUFFIX
        try:
            async with async_session() as session:
                stored = await list_rules(session)
        except TRANSIENT_DB_ERRORS:
            self._clear_test(UNAVAILABLE)
            return
        try:
            rule_set = rules_admin.rule_set_with_draft(stored, draft)
        except RuleValidationError as exc:
            self._clear_test(f"The draft cannot be tested: {_form_field(exc.field)}: {exc.message}")
            return
        self._clear_test()
        self.test_results, self._traces = rules_dry_run.explain_all(rule_set, alerts)
        self.test_trace = self._traces[0] if self._traces else []
        if draft is not None:
            self.test_note = (
                f"Evaluated with your unsaved draft of {draft.name.removesuffix(rules_dry_run.DRAFT_SUFFIX)!r}."
            )
        else:
            self.test_note = "Evaluated with the saved rules."

    @rx.event
    async def test_stored(self):
        if not isinstance(admin := await self._admin(), User):
            return admin
        try:
            async with async_session() as session:
                alert = await session.get(Alert, _rule_id(self.test_alert_id))
        except TRANSIENT_DB_ERRORS:
            self._clear_test(UNAVAILABLE)
            return None
        if alert is None:
            self._clear_test("Pick a stored alert first.")
            return None
        await self._explain([(f"#{alert.id} {alert.alertname} {alert.instance}".strip(), dict(alert.labels))])
        return None

    @rx.event
    async def test_pasted(self):
        if not isinstance(admin := await self._admin(), User):
            return admin
        try:
            alerts = rules_dry_run.alerts_from_payload(self.test_payload)
        except rules_dry_run.PayloadError as exc:
            self._clear_test(str(exc))
            return None
        await self._explain(alerts)
        return None

    # ----- YAML -----

    @rx.event
    async def type_yaml(self, value: str):
        if not isinstance(admin := await self._admin(), User):
            return admin
        self.yaml_text = str(value)[: rules_io.MAX_DOCUMENT_BYTES + 1]
        return None

    async def _export(self) -> str | None:
        try:
            async with async_session() as session:
                return await rules_io.export_rules(session)
        except TRANSIENT_DB_ERRORS:
            self._fail(UNAVAILABLE)
            return None

    @rx.event
    async def load_yaml(self):
        if not isinstance(admin := await self._admin(), User):
            return admin
        document = await self._export()
        if document is not None:
            self.yaml_text, self.yaml_errors, self.yaml_warnings, self.yaml_plan = document, [], [], ""
        return None

    @rx.event
    async def download_yaml(self):
        if not isinstance(admin := await self._admin(), User):
            return admin
        document = await self._export()
        if document is None:
            return None
        return rx.download(data=document, filename="rules.yaml", mime_type="application/yaml")

    async def _check_yaml(self) -> tuple[list[Rule], rules_io.ImportPlan] | None:
        parsed = rules_io.parse_rules(self.yaml_text)
        self.yaml_errors, self.yaml_warnings, self.yaml_plan = parsed.errors, parsed.warnings, ""
        if not parsed.ok:
            self._fail("The YAML was refused; nothing changed.")
            return None
        try:
            async with async_session() as session:
                plan = await rules_io.plan_import(session, parsed.rules)
        except TRANSIENT_DB_ERRORS:
            self._fail(UNAVAILABLE)
            return None
        self.yaml_plan = f"{len(parsed.rules)} rules: importing would leave {plan.summary()}."
        return parsed.rules, plan

    @rx.event
    async def validate_yaml(self):
        if not isinstance(admin := await self._admin(), User):
            return admin
        if await self._check_yaml() is not None:
            self._done("The YAML is valid.")
        return None

    @rx.event
    async def ask_import(self):
        if not isinstance(admin := await self._admin(), User):
            return admin
        self.import_open = await self._check_yaml() is not None
        return None

    @rx.event
    async def close_import(self, open_: bool = False):
        if not isinstance(admin := await self._admin(), User):
            return admin
        self.import_open = bool(open_) and self.import_open
        return None

    @rx.event
    async def confirm_import(self):
        if not isinstance(admin := await self._admin(), User):
            return admin
        self.import_open = False
        parsed = rules_io.parse_rules(self.yaml_text)
        self.yaml_errors, self.yaml_warnings = parsed.errors, parsed.warnings
        if not parsed.ok:
            self._fail("The YAML was refused; nothing changed.")
            return None
        try:
            async with async_session() as session:
                plan = await rules_io.import_rules(session, parsed.rules, actor=admin, address=client_address(self))
                await session.commit()
        except sa.exc.IntegrityError:
            self._fail("Another change to the rules happened at the same time; nothing changed. Try again.")
            return None
        except TRANSIENT_DB_ERRORS:
            self._fail(UNAVAILABLE)
            return None
        self.yaml_plan = ""
        self._done(f"Imported {len(parsed.rules)} rules: {plan.summary()}.")
        await self._reload()
        return None
