"""Datasources (admins only): the Prometheus-compatible query APIs analyses gather evidence from (the
one from PROMETHEUS_URL read-only), the add/edit form with a write-only credential, delete after
confirmation, and Test connection per datasource.

The state is in datasources_state.py (every handler checks the admin on the server).
"""

from __future__ import annotations

import reflex as rx

from remediation_app.pages.admin import kit
from remediation_app.pages.admin.datasources.datasources_state import AdminDatasourcesState as S
from remediation_app.services.investigation import datasources

URL_HINT = (
    "Prometheus, Thanos, Mimir or VictoriaMetrics: the base of its /api/v1 (http://prometheus:9090, "
    "https://mimir.example/prometheus). No credentials in the URL."
)


AUTH_OPTIONS = [("none", "none"), ("bearer", "bearer token"), ("basic", "basic (user and password)")]


def _datasource_form() -> rx.Component:
    secret = kit.secret_input(S, "secret", max_length=datasources.MAX_SECRET)
    return kit.edit_form(
        S,
        rx.grid(
            kit.input_field(S, "name", "Name", required=True, max_length=100),
            kit.input_field(
                S, "url", "URL", URL_HINT, required=True, max_length=1024, placeholder="http://prometheus:9090"
            ),
            kit.field("Authentication", kit.select_input(S, "auth", AUTH_OPTIONS)),
            kit.input_field(S, "username", "User name", "For basic authentication.", max_length=255),
            kit.field("Credential", secret, "The bearer token or the password. Write-only: never shown again."),
            kit.input_field(
                S, "timeout_s", "Timeout (seconds)", "Per query, 0.5 to 60.", type="number", step="0.5", min="0.5"
            ),
            columns="3",
            spacing="3",
            width="100%",
        ),
        rx.hstack(
            kit.form_checkbox(S, "is_default", "Default (for alerts from an unknown Prometheus)", id="default"),
            kit.form_checkbox(S, "enabled", "Enabled", id="enabled"),
            kit.remove_secret(S, "secret", "Remove stored credential", id="remove-secret"),
            spacing="5",
            align="center",
        ),
    )


def _datasource_row(row: rx.Var) -> rx.Component:
    test = S.test_datasource(row["id"])  # type: ignore[misc]
    consequence = "Analyses stop querying it; the evidence they gathered from it is kept."
    return kit.crud_row(
        row,
        S,
        kit.name_cell(row, S, "from PROMETHEUS_URL (read-only)"),
        rx.table.cell(rx.code(row["url"], word_break="break-all"), class_name="datasource-url"),
        rx.table.cell(
            rx.text(row["auth"], rx.cond(row["username"] != "", " (" + row["username"] + ")", "")),
            class_name="datasource-auth",
        ),
        rx.table.cell(rx.text(row["has_secret"]), class_name="datasource-secret"),
        rx.table.cell(rx.text(row["timeout_s"], " s"), class_name="datasource-timeout"),
        rx.table.cell(
            rx.cond(row["is_default"] != "", rx.badge("default", color_scheme="green")),
            class_name="datasource-default",
        ),
        rx.table.cell(rx.text(row["enabled"]), class_name="datasource-enabled"),
        rx.table.cell(rx.text(row["source"]), class_name="datasource-source"),
        rx.table.cell(kit.test_and_change(row, S, test, consequence=consequence)),
    )


admin_datasources_page = kit.crud_page(
    "/admin/datasources",
    "Datasources",
    S,
    form=_datasource_form,
    empty="No datasource yet: add one above, or set PROMETHEUS_URL.",
    headers=["Name", "URL", "Authentication", "Credential stored", "Timeout", "Default", "Enabled", "Source", ""],
    row=_datasource_row,
)
