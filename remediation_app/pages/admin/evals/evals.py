"""Evaluations (admins only): the runs `python -m remediation_app eval run` stored, and models side by
side per case with their totals (pass rate, cost per case, latency, tool calls). Each run's full
report (charts, every answer and check) opens from its row. The state is in evals_state.py.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from remediation_app.components.callouts import message
from remediation_app.components.pager import pager
from remediation_app.components.panels import section
from remediation_app.components.table import data_table, row_button
from remediation_app.pages.admin.evals.evals_state import AdminEvalsState
from remediation_app.pages.page import page

_CELL_COLORS = {"passed": "var(--grass-3)", "failed": "var(--red-3)", "error": "var(--amber-3)"}


def _run_row(row: rx.Var) -> rx.Component:
    s = AdminEvalsState
    return rx.table.row(
        rx.table.cell(rx.text("#", row["id"])),
        rx.table.cell(rx.text(row["created_at"], size="1", white_space="nowrap")),
        rx.table.cell(rx.text(row["status"], class_name="run-status")),
        rx.table.cell(rx.text(row["cases"])),
        rx.table.cell(rx.text(row["models"], size="1", class_name="run-models")),
        rx.table.cell(rx.text(row["judge"], size="1")),
        rx.table.cell(rx.text(row["cost"], size="1")),
        rx.table.cell(
            rx.hstack(
                row_button("Show", s.show_run(row["id"]), class_name="show-run"),
                row_button("Compare", s.add_run(row["id"]), class_name="add-run"),
                rx.link(
                    "Report",
                    href="/api/evals/runs/" + row["id"] + "/report",
                    is_external=True,
                    size="1",
                    class_name="run-report",
                ),
                spacing="2",
                align="center",
            )
        ),
        class_name="run-row",
        id="run-row-" + row["id"],
    )


def _column_header(column: Any) -> rx.Component:
    return rx.table.column_header_cell(
        rx.vstack(
            rx.text(column.label, weight="bold", size="2", class_name="column-label"),
            rx.text(column.passed, size="1", class_name="column-passed"),
            rx.text(column.cost_per_case, " a case", size="1", color_scheme="gray"),
            rx.text(column.latency, size="1", color_scheme="gray"),
            rx.text(column.tool_calls, " tool calls, ", column.errors, " errors", size="1", color_scheme="gray"),
            spacing="0",
        ),
        class_name="compare-column",
        custom_attrs={"data-key": column.key},
    )


def _cell(cell: Any) -> rx.Component:
    return rx.table.cell(
        rx.tooltip(
            rx.text(cell.text, weight="bold", size="2"),
            content=rx.cond(cell.missed != "", cell.missed, "all checks met"),
        ),
        background=rx.match(cell.status, *[(k, v) for k, v in _CELL_COLORS.items()], "transparent"),
        class_name="compare-cell",
        custom_attrs={"data-status": cell.status},
    )


def _case_row(row: Any) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.vstack(
                rx.text(row.case_id, weight="bold", size="2"),
                rx.text(row.title, size="1", color_scheme="gray"),
                spacing="0",
            )
        ),
        rx.table.cell(rx.text(row.difficulty, size="1")),
        rx.foreach(row.cells, _cell),
        class_name="compare-row",
        custom_attrs={"data-case": row.case_id},
    )


def _comparison() -> rx.Component:
    s = AdminEvalsState
    return section(
        "Models side by side",
        rx.hstack(
            rx.text("Runs compared: ", rx.foreach(s.compared, lambda i: rx.badge("#", i, variant="soft")), size="2"),
            rx.spacer(),
            rx.button(
                "Clear", on_click=s.clear_comparison, size="1", variant="soft", color_scheme="gray", id="compare-clear"
            ),
            width="100%",
            align="center",
        ),
        rx.cond(
            s.columns.length() > 0,  # type: ignore[attr-defined]
            rx.box(
                rx.table.root(
                    rx.table.header(
                        rx.table.row(
                            rx.table.column_header_cell("Case"),
                            rx.table.column_header_cell("Difficulty"),
                            rx.foreach(s.columns, _column_header),
                        )
                    ),
                    rx.table.body(rx.foreach(s.case_rows, _case_row), id="compare-rows"),
                    variant="surface",
                    size="1",
                    id="compare-table",
                ),
                overflow_x="auto",
                width="100%",
            ),
            rx.text("Pick a run: Show compares its models, Compare adds it to these.", size="2", color_scheme="gray"),
        ),
        id="compare-section",
    )


@page("/admin/evals", "Evaluations", role="admin", on_load=AdminEvalsState.load)
def admin_evals_page() -> tuple[rx.Component, ...]:
    s = AdminEvalsState
    headers = ["Run", "Started", "Status", "Cases", "Passed per model", "Judge", "Cost", ""]
    return (
        message(s.error, "red", id="evals-error", margin_bottom="1em"),
        rx.hstack(
            rx.text(
                "How often each model finds the root cause of the shipped cases (and yours): "
                "python -m remediation_app eval run (docs/evals.md).",
                size="2",
                color_scheme="gray",
            ),
            rx.spacer(),
            rx.button("Refresh", on_click=s.load, variant="soft", size="1", id="evals-refresh"),
            width="100%",
            margin_bottom="0.75em",
        ),
        data_table(headers, s.rows, _run_row, body_id="run-rows"),
        pager(s, prefix="evals-"),
        _comparison(),
    )
