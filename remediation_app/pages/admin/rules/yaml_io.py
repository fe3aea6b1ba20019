"""The rules page's YAML panel: show, download, validate and import the rule set, with its errors,
warnings and the plan an import would carry out. The state is in yaml_io_state.py.
"""

from __future__ import annotations

import reflex as rx

from remediation_app.components.dialogs import confirm_buttons
from remediation_app.components.forms import code_area
from remediation_app.components.panels import card
from remediation_app.pages.admin.rules.rules_state import AdminRulesState as S
from remediation_app.services.rules import io as rules_io


def import_dialog() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Replace the whole rule set?"),
            rx.alert_dialog.description(S.yaml_plan, size="2"),
            confirm_buttons(rx.button("Import", on_click=S.confirm_import, id="confirm-import")),
            id="import-dialog",
        ),
        open=S.import_open,
        on_open_change=S.close_import,
    )


def yaml_panel() -> rx.Component:
    return card(
        "YAML import / export",
        rx.hstack(
            rx.button("Show current rules", on_click=S.load_yaml, variant="soft", id="yaml-load"),
            rx.button("Download rules.yaml", on_click=S.download_yaml, variant="soft", id="yaml-download"),
            rx.button("Validate", on_click=S.validate_yaml, variant="soft", id="yaml-validate"),
            rx.button("Import…", on_click=S.ask_import, color_scheme="orange", id="yaml-import"),
            spacing="3",
        ),
        code_area(
            S.yaml_text, S.type_yaml, id="rules-yaml", placeholder="version: 1\nrules:\n  - name: ...", rows="14"
        ),
        _lines(S.yaml_errors, "red", id="yaml-errors", class_name="yaml-error"),
        _lines(S.yaml_warnings, "orange", id="yaml-warnings", class_name="yaml-warning"),
        rx.cond(S.yaml_plan != "", rx.text(S.yaml_plan, size="2", id="yaml-plan")),
        intro="Import replaces the whole rule set in one step (rules are matched by name: kept rules keep "
        f"their hit counters). At most {rules_io.MAX_DOCUMENT_BYTES // 1024} KiB.",
        margin_top="1em",
    )


def _lines(lines: rx.Var, color: str, *, id: str, class_name: str) -> rx.Component:
    """A callout with one line per message (none: nothing shown)."""
    return rx.cond(
        lines,
        rx.callout(
            rx.vstack(rx.foreach(lines, lambda line: rx.text(line, class_name=class_name)), spacing="1"),
            color_scheme=color,
            id=id,
        ),
    )
