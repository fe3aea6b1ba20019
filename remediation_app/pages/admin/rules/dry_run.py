"""The rules page's Test panel: which rule wins for a stored or pasted alert, and the trace of the
rules tried. The state is in dry_run_state.py.
"""

from __future__ import annotations

import reflex as rx

from remediation_app.components.badges import action_badge
from remediation_app.components.callouts import message
from remediation_app.components.forms import code_area
from remediation_app.components.panels import card
from remediation_app.pages.admin.rules.rules_state import AdminRulesState as S


def _result_row(result: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(result["alert"], class_name="result-alert")),
        rx.table.cell(action_badge(result["action"]), class_name="result-action"),
        rx.table.cell(
            rx.text(
                result["rule"], class_name="result-rule", weight=rx.cond(result["draft"] == "yes", "bold", "regular")
            )
        ),
        rx.table.cell(rx.text(result["reason"], size="1", class_name="result-reason")),
        rx.table.cell(
            rx.button(
                "Trace", on_click=S.select_result(result["index"]), size="1", variant="ghost", class_name="show-trace"
            )
        ),
        class_name="test-result",
    )


def _trace_row(step: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(step["priority"]),
        rx.table.cell(rx.text(step["rule"], class_name="trace-rule")),
        rx.table.cell(
            rx.badge(
                step["verdict"],
                color_scheme=rx.match(step["verdict"], ("match", "green"), ("disabled", "gray"), "orange"),
                class_name="trace-verdict",
            )
        ),
        rx.table.cell(rx.text(step["reasons"], size="1")),
        class_name="trace-row",
    )


def test_panel() -> rx.Component:
    return card(
        "Test: which rule wins, and why",
        rx.hstack(
            rx.select.root(
                rx.select.trigger(placeholder="Pick one of the last 100 alerts", id="test-alert-select", width="32em"),
                rx.select.content(rx.foreach(S.recent, lambda a: rx.select.item(a["label"], value=a["id"]))),
                value=S.test_alert_id,
                on_change=S.pick_test_alert,
            ),
            rx.button("Test stored alert", on_click=S.test_stored, id="test-stored"),
            rx.button("Reload list", on_click=S.refresh, variant="soft", id="refresh-rules"),
            spacing="3",
            align="center",
        ),
        code_area(
            S.test_payload,
            S.type_test_payload,
            id="test-payload",
            placeholder='An Alertmanager notification: {"version": "4", "alerts": [{"status": "firing", ...}]}',
            rows="5",
        ),
        rx.button("Test pasted notification", on_click=S.test_pasted, id="test-pasted"),
        message(S.test_error, "red", id="test-error"),
        rx.cond(S.test_note != "", rx.text(S.test_note, size="2", id="test-note")),
        rx.cond(
            S.test_results,
            rx.vstack(
                rx.table.root(rx.table.body(rx.foreach(S.test_results, _result_row)), width="100%", id="test-results"),
                rx.text("Trace (rules in the order they are tried, up to the winner)", size="2", weight="medium"),
                rx.table.root(rx.table.body(rx.foreach(S.test_trace, _trace_row)), width="100%", id="test-trace"),
                width="100%",
            ),
        ),
        intro="Against the saved rules, with the draft in the editor (if open) in place of the rule it edits.",
        margin_top="1em",
    )
