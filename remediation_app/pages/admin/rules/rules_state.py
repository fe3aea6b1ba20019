"""The rules page's state (admins only): the rule list with hit counters (enable, reorder, delete),
made of three parts beside it: the editor (editor_state.py), the dry run (dry_run_state.py) and
YAML import/export (yaml_io_state.py).

Every handler checks the admin on the server first (AdminState; the page's on_load is only a
convenience). Changes go through services.rules.engine (save_rule/delete_rule: validated, audited,
version bumped). Rules and alert labels are not secret; nothing else is held.
"""

from __future__ import annotations

import reflex as rx
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.db import TRANSIENT_DB_ERRORS, async_session
from remediation_app.models import Rule, User
from remediation_app.pages.admin.kit_state import Change
from remediation_app.pages.admin.rules.dry_run_state import RuleDryRunState
from remediation_app.pages.admin.rules.yaml_io_state import RuleYamlState
from remediation_app.services.rules import admin as rules_admin
from remediation_app.services.rules import dry_run as rules_dry_run
from remediation_app.services.rules.engine import delete_rule, list_rules, save_rule
from remediation_app.state import UNAVAILABLE, parse_id


class RuleRefused(Exception):
    """A change to the list that cannot be made (the rule is gone, or cannot move further)."""


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


class AdminRulesState(RuleDryRunState, RuleYamlState, rx.State):
    rules: list[dict[str, str]] = []
    # The delete confirmation.
    delete_open: bool = False
    delete_id: str = ""
    delete_name: str = ""

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
        self._show_recent(recent)

    async def _load(self) -> None:
        await self._reload()

    async def _change_rules(self, change: Change) -> None:
        """Apply one change to the list (RuleRefused: nothing changed, its message is shown), reload."""
        await self._apply(change, refused=(RuleRefused,))
        await self._reload()

    @rx.event
    async def refresh(self):
        self.error = ""
        await self._reload()

    @rx.event
    async def set_enabled(self, rule_id: str, enabled: bool):
        target, enabled = parse_id(rule_id) or 0, enabled is True or str(enabled).lower() == "true"

        async def change(session: AsyncSession, admin: User, address: str) -> str:
            rule = await session.get(Rule, target)
            if rule is None:
                raise RuleRefused("That rule no longer exists.")
            rule.enabled = enabled
            await save_rule(session, rule, actor=admin, address=address)
            return "Rule enabled." if enabled else "Rule disabled."

        await self._change_rules(change)

    @rx.event
    async def move(self, rule_id: str, offset: int):
        target, step = parse_id(rule_id) or 0, -1 if int(offset) < 0 else 1

        async def change(session: AsyncSession, admin: User, address: str) -> str:
            stored = await list_rules(session)
            planned = rules_admin.plan_move(stored, target, step)
            if not planned:
                found = any(r.id == target for r in stored)
                raise RuleRefused("That rule cannot move further." if found else "No such rule.")
            for rule in stored:
                if rule.id in planned:
                    rule.priority = planned[rule.id]
                    await save_rule(session, rule, actor=admin, address=address)
            return "Rule moved up." if step < 0 else "Rule moved down."

        await self._change_rules(change)

    @rx.event
    async def ask_delete(self, rule_id: str):
        row = next((r for r in self.rules if r["id"] == str(parse_id(rule_id))), None)
        if row is None:
            self._fail("No such rule.")
            return
        self.delete_open, self.delete_id, self.delete_name = True, row["id"], row["name"]

    def _close_delete(self) -> None:
        self.delete_open, self.delete_id, self.delete_name = False, "", ""

    @rx.event
    async def close_delete(self, open_: bool = False):
        if not open_:
            self._close_delete()

    @rx.event
    async def confirm_delete(self):
        target, name = parse_id(self.delete_id) or 0, self.delete_name
        self._close_delete()

        async def change(session: AsyncSession, admin: User, address: str) -> str:
            if not await delete_rule(session, target, actor=admin, address=address):
                raise RuleRefused("That rule no longer exists.")
            return f"Deleted rule {name}."

        await self._change_rules(change)
        if self.draft_id == str(target):
            self.editing, self.draft_id = False, ""
