"""Diagnostics policy (admins only): which commands a model may propose for approval, per group of
servers, as YAML (export, edit, validate, save after a confirmation naming each widening), and a dry
run of one command for a registered server against the draft. The state is in policy_state.py;
docs/diagnostics.md explains the document."""

from __future__ import annotations

import reflex as rx

from remediation_app.components.callouts import message, outcome
from remediation_app.components.dialogs import confirm_buttons
from remediation_app.components.forms import code_area
from remediation_app.components.panels import card
from remediation_app.pages.admin.policy.policy_state import AdminPolicyState as S
from remediation_app.pages.page import page
from remediation_app.services.diagnostics.policy import MAX_DOCUMENT_BYTES


def _lines(lines: rx.Var, color: str, *, id: str, class_name: str) -> rx.Component:
    return rx.cond(
        lines,
        rx.callout(
            rx.vstack(rx.foreach(lines, lambda line: rx.text(line, class_name=class_name)), spacing="1"),
            color_scheme=color,
            id=id,
        ),
    )


def _save_dialog() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Put this policy in force?"),
            rx.alert_dialog.description(
                rx.cond(
                    S.widened,
                    rx.text("It allows more than the policy in force (recorded in the audit log as a widening):"),
                    rx.text("It allows nothing more than the policy in force."),
                ),
                size="2",
            ),
            _lines(S.widened, "orange", id="save-widened", class_name="widening"),
            confirm_buttons(rx.button("Save", on_click=S.confirm_save, id="confirm-save-policy")),
            id="save-policy-dialog",
        ),
        open=S.save_open,
        on_open_change=S.close_save,
    )


def _editor() -> rx.Component:
    return card(
        "Policy (YAML)",
        rx.text("In force: ", rx.text.span(S.in_force, id="policy-in-force"), size="2"),
        message(S.broken, "red", id="policy-broken"),
        rx.hstack(
            rx.button("Reload the policy in force", on_click=S.load, variant="soft", id="policy-reload"),
            rx.button("Download policy.yaml", on_click=S.download, variant="soft", id="policy-download"),
            rx.button("Start from the default", on_click=S.start_from_default, variant="soft", id="policy-default"),
            rx.button("Validate", on_click=S.validate, variant="soft", id="policy-validate"),
            rx.button("Save…", on_click=S.ask_save, color_scheme="orange", id="policy-save"),
            spacing="3",
            wrap="wrap",
        ),
        code_area(S.document, S.type_document, id="policy-yaml", placeholder="version: 1\ngroups: ...", rows="24"),
        _lines(S.errors, "red", id="policy-errors", class_name="policy-error"),
        rx.cond(~S.save_open, _lines(S.widened, "orange", id="policy-widened", class_name="widening")),
        intro="Commands not allowed here are refused before anyone sees them; a person still approves every "
        f"command that is. To import, paste a document and Save (at most {MAX_DOCUMENT_BYTES // 1024} KiB).",
    )


def _dry_run() -> rx.Component:
    return card(
        "Dry run: would this command be offered?",
        rx.hstack(
            rx.select.root(
                rx.select.trigger(placeholder="A registered server", id="dry-server", width="16em"),
                rx.select.content(rx.foreach(S.servers, lambda name: rx.select.item(name, value=name))),
                value=S.dry_server,
                on_change=S.pick_server,
            ),
            rx.input(
                value=S.dry_command,
                on_change=S.type_command,
                placeholder="journalctl -u nginx -n 100 --no-pager",
                id="dry-command",
                font_family="monospace",
                width="100%",
            ),
            rx.button("Dry run", on_click=S.dry_run, id="dry-run"),
            spacing="3",
            width="100%",
            align="center",
        ),
        rx.cond(
            S.dry_reason != "",
            rx.callout(
                rx.vstack(
                    rx.text(rx.cond(S.dry_allowed, "Offered for approval: ", "Refused: "), S.dry_reason),
                    rx.cond(S.dry_runs != "", rx.text("Runs exactly: ", rx.code(S.dry_runs, id="dry-runs"))),
                    spacing="1",
                ),
                color_scheme=rx.cond(S.dry_allowed, "green", "red"),
                id="dry-verdict",
            ),
        ),
        intro="Against the draft in the editor (saved or not). Nothing runs.",
        margin_top="1em",
    )


@page("/admin/diagnostics", "Diagnostics policy", role="admin", on_load=S.load)
def admin_policy_page() -> tuple[rx.Component, ...]:
    return (
        outcome(S, "policy"),
        rx.cond(S.loaded, rx.fragment(_editor(), _dry_run()), rx.spinner(id="policy-loading")),
        _save_dialog(),
    )
