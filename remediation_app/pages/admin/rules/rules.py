"""Rules (admins only): the rules in the order they are tried, with hit counters; an editor; a
dry run against a stored or pasted alert, including the unsaved draft; YAML import/export.

Each part's view is beside this one (editor.py, dry_run.py, yaml_io.py), each part's state beside
its view; rules_state.py puts them together (every handler checks the admin on the server).
"""

from __future__ import annotations

import reflex as rx

from remediation_app.components.badges import action_badge
from remediation_app.components.callouts import outcome
from remediation_app.components.dialogs import confirm_buttons
from remediation_app.components.table import data_table, row_actions, row_button, time_or_never
from remediation_app.pages.admin.rules.dry_run import test_panel
from remediation_app.pages.admin.rules.editor import rule_editor
from remediation_app.pages.admin.rules.rules_state import AdminRulesState as S
from remediation_app.pages.admin.rules.yaml_io import import_dialog, yaml_panel
from remediation_app.pages.page import page


def _move_button(row: rx.Var, way: str) -> rx.Component:
    """Up (disabled on the first rule) or down (on the last one)."""
    up = way == "up"
    return rx.icon_button(
        rx.icon(f"arrow-{way}", size=14),
        on_click=S.move(row["id"], -1 if up else 1),
        disabled=row["first" if up else "last"] == "yes",
        size="1",
        variant="soft",
        class_name=f"move-{way}",
        aria_label=f"Move {way}",
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
        rx.table.cell(time_or_never(row["last_hit"]), class_name="rule-last-hit"),
        rx.table.cell(
            row_actions(
                _move_button(row, "up"),
                _move_button(row, "down"),
                row_button("Edit", S.edit_rule(row["id"]), class_name="edit-rule"),
                row_button("Delete", S.ask_delete(row["id"]), color_scheme="red", class_name="delete-rule"),
            )
        ),
        class_name="rule-row",
        id="rule-row-" + row["id"],
    )


def _delete_dialog() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Delete rule ", S.delete_name, "?"),
            rx.alert_dialog.description(
                "Alerts it decided keep their action; new alerts go to the next matching rule.", size="2"
            ),
            confirm_buttons(rx.button("Delete", color_scheme="red", on_click=S.confirm_delete, id="confirm-delete")),
            id="delete-dialog",
        ),
        open=S.delete_open,
        on_open_change=S.close_delete,
    )


@page("/admin/rules", "Rules", role="admin", on_load=S.load)
def admin_rules_page() -> tuple[rx.Component, ...]:
    headers = ["Priority", "Name", "Matches", "Action", "Enabled", "Hits", "Last hit", ""]
    return (
        outcome(S, "rules"),
        rx.cond(
            S.editing,
            rule_editor(),
            rx.button("New rule", on_click=S.new_rule, id="new-rule", margin_bottom="1em"),
        ),
        rx.text(
            "Rules are tried from the top; the first enabled rule whose patterns all match decides the action "
            "(none: manual). Hits count the stored alerts each rule decided.",
            size="2",
            color_scheme="gray",
            margin_bottom="0.5em",
        ),
        data_table(headers, S.rules, _rule_row, body_id="rule-rows"),
        test_panel(),
        yaml_panel(),
        _delete_dialog(),
        import_dialog(),
    )
