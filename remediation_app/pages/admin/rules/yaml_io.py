"""The rules page's YAML panel: show, download, validate and import the rule set, with its errors,
warnings and the plan an import would carry out. The state is in yaml_io_state.py.
"""

from __future__ import annotations

import reflex as rx

from remediation_app.components.dialogs import confirm_buttons
from remediation_app.pages.admin.rules.rules_state import AdminRulesState as S
from remediation_app.services import rules_io


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
