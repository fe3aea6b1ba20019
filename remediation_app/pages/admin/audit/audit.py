"""The audit log (admins only): newest first, filtered by actor and action, 50 a page. The state is
in audit_state.py.
"""

from __future__ import annotations

import reflex as rx

from remediation_app.components.callouts import message
from remediation_app.components.pager import filter_input, pager
from remediation_app.components.table import data_table
from remediation_app.pages.admin.audit.audit_state import MAX_FILTER, AdminAuditState
from remediation_app.pages.page import page


def _filter(name: str, label: str, placeholder: str) -> rx.Component:
    """Filter by actor or action (element id `audit-<name>`)."""
    return filter_input(
        AdminAuditState, name, label, id=f"audit-{name}", max_length=MAX_FILTER, placeholder=placeholder, width="16em"
    )


def _filters() -> rx.Component:
    return rx.hstack(
        _filter("actor", "Actor", "username"),
        _filter("action", "Action", "e.g. user.create"),
        spacing="4",
        margin_bottom="1em",
    )


def _event_row(row: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.moment(row["at"], format="YYYY-MM-DD HH:mm:ss"), white_space="nowrap"),
        rx.table.cell(rx.text(row["actor"]), class_name="actor"),
        rx.table.cell(rx.code(row["action"]), class_name="action"),
        rx.table.cell(rx.text(row["target"]), class_name="target"),
        rx.table.cell(rx.text(row["address"]), class_name="address"),
        rx.table.cell(rx.text(row["success"]), class_name="success"),
        rx.table.cell(
            rx.text(row["details"], white_space="pre-wrap", word_break="break-word", size="1"),
            class_name="details",
            max_width="28em",
        ),
        class_name="audit-row",
    )


@page("/admin/audit", "Audit log", role="admin", on_load=AdminAuditState.load)
def admin_audit_page() -> tuple[rx.Component, ...]:
    s = AdminAuditState
    headers = ["When", "Actor", "Action", "Target", "Address", "OK", "Details"]
    return (
        message(s.error, "red", margin_bottom="1em"),
        _filters(),
        data_table(headers, s.rows, _event_row, body_id="audit-rows", size="1"),
        pager(s, prefix="audit-"),
    )
