"""The rules page's dry run, "Test" (a part of AdminRulesState): which rule wins for a stored or a
pasted alert, and why, against the saved rules with the editor's unsaved draft in place of the rule
it edits. Nothing is saved; services.rules.dry_run explains each rule tried.
"""

from __future__ import annotations

import reflex as rx

from remediation_app.db import TRANSIENT_DB_ERRORS, async_session
from remediation_app.models import Alert, Rule
from remediation_app.pages.admin.rules.editor_state import RuleEditorState, form_field
from remediation_app.services.rules import admin as rules_admin
from remediation_app.services.rules import dry_run as rules_dry_run
from remediation_app.services.rules.engine import RuleValidationError, list_rules
from remediation_app.state import UNAVAILABLE, parse_id


def alert_choice(alert: Alert) -> dict[str, str]:
    """One of the recent alerts offered to test with."""
    label = (
        f"#{alert.id} {alert.alertname or '(no alertname)'} {alert.instance} · {alert.severity or '-'} · "
        f"{alert.status} · {alert.first_received_at:%Y-%m-%d %H:%M}"
    )
    return {"id": str(alert.id), "label": label[:160]}


class RuleDryRunState(RuleEditorState, mixin=True):
    recent: list[dict[str, str]] = []
    test_alert_id: str = ""
    test_payload: str = ""
    test_error: str = ""
    test_note: str = ""
    test_results: list[dict[str, str]] = []
    test_selected: int = 0
    test_trace: list[dict[str, str]] = []
    _traces: list[list[dict[str, str]]] = []

    def _show_recent(self, alerts: list[Alert]) -> None:
        self.recent = [alert_choice(a) for a in alerts]
        if self.test_alert_id not in {row["id"] for row in self.recent}:
            self.test_alert_id = self.recent[0]["id"] if self.recent else ""

    @rx.event
    async def pick_test_alert(self, value: str):
        self.test_alert_id = str(value)

    @rx.event
    async def type_test_payload(self, value: str):
        self.test_payload = str(value)[: rules_dry_run.MAX_PAYLOAD_BYTES + 1]

    @rx.event
    async def select_result(self, index: int):
        if 0 <= int(index) < len(self._traces):
            self.test_selected = int(index)
            self.test_trace = self._traces[self.test_selected]

    def _clear_test(self, error: str = "") -> None:
        self.test_error, self.test_note, self.test_results, self.test_trace, self._traces = error, "", [], [], []
        self.test_selected = 0

    def _draft_refused(self, exc: RuleValidationError) -> None:
        self._clear_test(f"The draft cannot be tested: {form_field(exc.field)}: {exc.message}")

    async def _explain(self, alerts: list[tuple[str, dict[str, str]]]) -> None:
        """Explain each (description, labels) against the stored rules with the open draft in place."""
        draft: Rule | None = None
        if self.editing:
            try:
                draft = self._draft_rule()
            except RuleValidationError as exc:
                self._draft_refused(exc)
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
            self._draft_refused(exc)
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
        try:
            async with async_session() as session:
                alert = await session.get(Alert, parse_id(self.test_alert_id) or 0)
        except TRANSIENT_DB_ERRORS:
            self._clear_test(UNAVAILABLE)
            return
        if alert is None:
            self._clear_test("Pick a stored alert first.")
            return
        await self._explain([(f"#{alert.id} {alert.alertname} {alert.instance}".strip(), dict(alert.labels))])

    @rx.event
    async def test_pasted(self):
        try:
            alerts = rules_dry_run.alerts_from_payload(self.test_payload)
        except rules_dry_run.PayloadError as exc:
            self._clear_test(str(exc))
            return
        await self._explain(alerts)
