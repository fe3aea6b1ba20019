"""Rules (admins only): the rules in the order they are tried, with hit counters; an editor; a
dry run against a stored or pasted alert, including the unsaved draft; YAML import/export.

The state lives in admin_rules_state.py (every handler checks the admin on the server).
"""

from __future__ import annotations

import reflex as rx

from remediation_app.components.badges import action_badge
from remediation_app.layout import layout
from remediation_app.pages.admin_rules_state import ACTIONS, AdminRulesState
from remediation_app.services import rules_admin, rules_io

__all__ = ["AdminRulesState", "admin_rules_page"]

S = AdminRulesState


def _field_error(field: str) -> rx.Component:
    return rx.cond(
        S.field_errors[field] != "",
        rx.text(S.field_errors[field], color_scheme="red", size="1", id=f"error-{field}", class_name="field-error"),
    )


def _labelled(label: str, field: str, control: rx.Component, **props: object) -> rx.Component:
    return rx.vstack(rx.text(label, size="2", weight="medium"), control, _field_error(field), spacing="1", **props)


def _draft_input(field: str, placeholder: str, max_length: int) -> rx.Component:
    return rx.input(
        value=S.draft[field],
        on_change=lambda value: S.set_draft_field(field, value),
        placeholder=placeholder,
        max_length=max_length,
        id=f"draft-{field}",
        width="100%",
    )


def _editor() -> rx.Component:
    patterns = [
        _labelled(label, label, _draft_input(label, "any (wildcard, or re:regex)", 1024), width="100%")
        for label in ("alertname", "severity", "instance", "job")
    ]
    return rx.card(
        rx.vstack(
            rx.heading(rx.cond(S.draft_id == "", "New rule", "Edit rule"), size="4"),
            rx.hstack(
                _labelled("Name", "name", _draft_input("name", "e.g. disk-full", rules_admin.MAX_NAME), flex="2"),
                _labelled(
                    "Priority (lower is tried first)",
                    "priority",
                    _draft_input("priority", str(rules_admin.DEFAULT_PRIORITY), 12),
                    flex="1",
                ),
                _labelled(
                    "Action",
                    "action",
                    rx.select(
                        ACTIONS,
                        value=S.draft["action"],
                        on_change=lambda value: S.set_draft_field("action", value),
                        id="draft-action",
                    ),
                ),
                _labelled(
                    "Enabled",
                    "enabled",
                    rx.switch(checked=S.draft_enabled, on_change=S.toggle_draft_enabled, id="draft-enabled"),
                ),
                spacing="4",
                width="100%",
                align="start",
            ),
            _labelled(
                "Description",
                "description",
                _draft_input("description", "what the rule is for", rules_admin.MAX_DESCRIPTION),
                width="100%",
            ),
            rx.grid(*patterns, columns="4", spacing="3", width="100%"),
            _labelled(
                "Other labels (one name=pattern a line)",
                "labels",
                rx.text_area(
                    value=S.draft["labels"],
                    on_change=lambda value: S.set_draft_field("labels", value),
                    placeholder="team=storage\nenv=re:prod|staging",
                    id="draft-labels",
                    rows="3",
                    width="100%",
                ),
                width="100%",
            ),
            rx.hstack(
                rx.button("Save rule", on_click=S.save_draft, id="save-rule"),
                rx.button("Cancel", on_click=S.cancel_edit, variant="soft", color_scheme="gray", id="cancel-rule"),
                rx.text("The Test panel below already uses this draft.", size="1", color_scheme="gray"),
                spacing="3",
                align="center",
            ),
            spacing="3",
            width="100%",
        ),
        id="rule-editor",
        width="100%",
        margin_bottom="1em",
    )


def _rule_row(row: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(row["priority"], class_name="rule-priority")),
        rx.table.cell(
            rx.text(row["name"], weight="medium", class_name="rule-name"),
            rx.text(row["description"], size="1", color_scheme="gray"),
        ),
        rx.table.cell(rx.code(row["match"], class_name="rule-match", size="1")),
        rx.table.cell(action_badge(row["action"])),
        rx.table.cell(
            rx.switch(
                checked=row["enabled"] == "yes",
                on_change=lambda value: S.set_enabled(row["id"], value),
                class_name="rule-enabled",
            )
        ),
        rx.table.cell(rx.text(row["hits"], class_name="rule-hits")),
        rx.table.cell(
            rx.cond(
                row["last_hit"] != "",
                rx.moment(row["last_hit"], format="YYYY-MM-DD HH:mm"),
                rx.text("never", color_scheme="gray"),
            ),
            class_name="rule-last-hit",
        ),
        rx.table.cell(
            rx.hstack(
                rx.icon_button(
                    rx.icon("arrow-up", size=14),
                    on_click=S.move(row["id"], -1),
                    disabled=row["first"] == "yes",
                    size="1",
                    variant="soft",
                    class_name="move-up",
                    aria_label="Move up",
                ),
                rx.icon_button(
                    rx.icon("arrow-down", size=14),
                    on_click=S.move(row["id"], 1),
                    disabled=row["last"] == "yes",
                    size="1",
                    variant="soft",
                    class_name="move-down",
                    aria_label="Move down",
                ),
                rx.button("Edit", on_click=S.edit_rule(row["id"]), size="1", variant="soft", class_name="edit-rule"),
                rx.button(
                    "Delete",
                    on_click=S.ask_delete(row["id"]),
                    size="1",
                    variant="soft",
                    color_scheme="red",
                    class_name="delete-rule",
                ),
                spacing="2",
            )
        ),
        class_name="rule-row",
        id="rule-row-" + row["id"],
    )


def _rules_table() -> rx.Component:
    headers = ["Priority", "Name", "Matches", "Action", "Enabled", "Hits", "Last hit", ""]
    return rx.table.root(
        rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in headers])),
        rx.table.body(rx.foreach(S.rules, _rule_row), id="rule-rows"),
        width="100%",
        variant="surface",
    )


def _delete_dialog() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Delete rule ", S.delete_name, "?"),
            rx.alert_dialog.description(
                "Alerts it decided keep their action; new alerts go to the next matching rule.", size="2"
            ),
            rx.hstack(
                rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", color_scheme="gray")),
                rx.alert_dialog.action(
                    rx.button("Delete", color_scheme="red", on_click=S.confirm_delete, id="confirm-delete")
                ),
                justify="end",
                spacing="3",
                margin_top="1em",
            ),
            id="delete-dialog",
        ),
        open=S.delete_open,
        on_open_change=S.close_delete,
    )


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


def _test_panel() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Test: which rule wins, and why", size="4"),
            rx.text(
                "Against the saved rules, with the draft in the editor (if open) in place of the rule it edits.",
                size="2",
                color_scheme="gray",
            ),
            rx.hstack(
                rx.select.root(
                    rx.select.trigger(
                        placeholder="Pick one of the last 100 alerts", id="test-alert-select", width="32em"
                    ),
                    rx.select.content(rx.foreach(S.recent, lambda a: rx.select.item(a["label"], value=a["id"]))),
                    value=S.test_alert_id,
                    on_change=S.pick_test_alert,
                ),
                rx.button("Test stored alert", on_click=S.test_stored, id="test-stored"),
                rx.button("Reload list", on_click=S.refresh, variant="soft", id="refresh-rules"),
                spacing="3",
                align="center",
            ),
            rx.text_area(
                value=S.test_payload,
                on_change=S.type_test_payload,
                placeholder='An Alertmanager notification: {"version": "4", "alerts": [{"status": "firing", ...}]}',
                id="test-payload",
                rows="5",
                width="100%",
                font_family="monospace",
            ),
            rx.button("Test pasted notification", on_click=S.test_pasted, id="test-pasted"),
            rx.cond(S.test_error != "", rx.callout(S.test_error, color_scheme="red", id="test-error")),
            rx.cond(S.test_note != "", rx.text(S.test_note, size="2", id="test-note")),
            rx.cond(
                S.test_results,
                rx.vstack(
                    rx.table.root(
                        rx.table.body(rx.foreach(S.test_results, _result_row)), width="100%", id="test-results"
                    ),
                    rx.text("Trace (rules in the order they are tried, up to the winner)", size="2", weight="medium"),
                    rx.table.root(rx.table.body(rx.foreach(S.test_trace, _trace_row)), width="100%", id="test-trace"),
                    width="100%",
                ),
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
        margin_top="1em",
    )


def _import_dialog() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Replace the whole rule set?"),
            rx.alert_dialog.description(S.yaml_plan, size="2"),
            rx.hstack(
                rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", color_scheme="gray")),
                rx.alert_dialog.action(rx.button("Import", on_click=S.confirm_import, id="confirm-import")),
                justify="end",
                spacing="3",
                margin_top="1em",
            ),
            id="import-dialog",
        ),
        open=S.import_open,
        on_open_change=S.close_import,
    )


def _yaml_panel() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("YAML import / export", size="4"),
            rx.text(
                "Import replaces the whole rule set in one step (rules are matched by name: kept rules keep "
                f"their hit counters). At most {rules_io.MAX_DOCUMENT_BYTES // 1024} KiB.",
                size="2",
                color_scheme="gray",
            ),
            rx.hstack(
                rx.button("Show current rules", on_click=S.load_yaml, variant="soft", id="yaml-load"),
                rx.button("Download rules.yaml", on_click=S.download_yaml, variant="soft", id="yaml-download"),
                rx.button("Validate", on_click=S.validate_yaml, variant="soft", id="yaml-validate"),
                rx.button("Import…", on_click=S.ask_import, color_scheme="orange", id="yaml-import"),
                spacing="3",
            ),
            rx.text_area(
                value=S.yaml_text,
                on_change=S.type_yaml,
                placeholder="version: 1\nrules:\n  - name: ...",
                id="rules-yaml",
                rows="14",
                width="100%",
                font_family="monospace",
            ),
            rx.cond(
                S.yaml_errors,
                rx.callout(
                    rx.vstack(rx.foreach(S.yaml_errors, lambda e: rx.text(e, class_name="yaml-error")), spacing="1"),
                    color_scheme="red",
                    id="yaml-errors",
                ),
            ),
            rx.cond(
                S.yaml_warnings,
                rx.callout(
                    rx.vstack(
                        rx.foreach(S.yaml_warnings, lambda w: rx.text(w, class_name="yaml-warning")), spacing="1"
                    ),
                    color_scheme="orange",
                    id="yaml-warnings",
                ),
            ),
            rx.cond(S.yaml_plan != "", rx.text(S.yaml_plan, size="2", id="yaml-plan")),
            spacing="3",
            width="100%",
        ),
        width="100%",
        margin_top="1em",
    )


def admin_rules_page() -> rx.Component:
    return layout(
        rx.cond(S.error != "", rx.callout(S.error, color_scheme="red", id="rules-error", margin_bottom="1em")),
        rx.cond(S.notice != "", rx.callout(S.notice, color_scheme="green", id="rules-notice", margin_bottom="1em")),
        rx.cond(
            S.editing,
            _editor(),
            rx.button("New rule", on_click=S.new_rule, id="new-rule", margin_bottom="1em"),
        ),
        rx.text(
            "Rules are tried from the top; the first enabled rule whose patterns all match decides the action "
            "(none: manual). Hits count the stored alerts each rule decided.",
            size="2",
            color_scheme="gray",
            margin_bottom="0.5em",
        ),
        _rules_table(),
        _test_panel(),
        _yaml_panel(),
        _delete_dialog(),
        _import_dialog(),
        title="Rules",
    )
