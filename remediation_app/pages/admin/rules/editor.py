"""The rules page's editor: the draft's fields, each with its own message, Save and Cancel. The
state is in editor_state.py.
"""

from __future__ import annotations

import reflex as rx

from remediation_app.components.panels import card
from remediation_app.pages.admin.rules.editor_state import ACTIONS
from remediation_app.pages.admin.rules.rules_state import AdminRulesState as S
from remediation_app.services.rules import admin as rules_admin


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


def rule_editor() -> rx.Component:
    patterns = [
        _labelled(label, label, _draft_input(label, "any (wildcard, or re:regex)", 1024), width="100%")
        for label in ("alertname", "severity", "instance", "job")
    ]
    return card(
        rx.cond(S.draft_id == "", "New rule", "Edit rule"),
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
        id="rule-editor",
        margin_bottom="1em",
    )
