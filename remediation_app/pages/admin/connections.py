"""The views of a connections page (datasources, Alertmanagers): the add/edit form with a
write-only credential, and a row with Test connection, Edit and Delete (not for the environment's
row). The kind's own fields and cells come in as arguments. The state is connections_state.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import reflex as rx

from remediation_app.pages.admin import kit
from remediation_app.services.connections import MAX_SECRET

AUTH_OPTIONS = [("none", "none"), ("bearer", "bearer token"), ("basic", "basic (user and password)")]
HEADERS = ["Name", "URL", "Authentication", "Credential stored", "Timeout", "Default", "Enabled", "Source", ""]


def connection_form(
    state: Any, *, url_hint: str, url_placeholder: str, default_label: str, extra: tuple[rx.Component, ...] = ()
) -> rx.Component:
    """The add/edit card: name, URL, the kind's own fields (`extra`), authentication, timeout, and
    the default and enabled boxes."""
    secret = kit.secret_input(state, "secret", max_length=MAX_SECRET)
    return kit.edit_form(
        state,
        rx.grid(
            kit.input_field(state, "name", "Name", required=True, max_length=100),
            kit.input_field(state, "url", "URL", url_hint, required=True, max_length=1024, placeholder=url_placeholder),
            *extra,
            kit.field("Authentication", kit.select_input(state, "auth", AUTH_OPTIONS)),
            kit.input_field(state, "username", "User name", "For basic authentication.", max_length=255),
            kit.field("Credential", secret, "The bearer token or the password. Write-only: never shown again."),
            kit.input_field(
                state, "timeout_s", "Timeout (seconds)", "Per call, 0.5 to 60.", type="number", step="0.5", min="0.5"
            ),
            columns="3",
            spacing="3",
            width="100%",
        ),
        rx.hstack(
            kit.form_checkbox(state, "is_default", default_label, id="default"),
            kit.form_checkbox(state, "enabled", "Enabled", id="enabled"),
            kit.remove_secret(state, "secret", "Remove stored credential", id="remove-secret"),
            spacing="5",
            align="center",
        ),
    )


def connection_row(
    state: Any,
    *,
    from_env: str,
    test: Callable[[Any], Any],
    consequence: str,
    extra: Callable[[rx.Var], tuple[rx.Component, ...]] = lambda row: (),
) -> Callable[[rx.Var], rx.Component]:
    """How a row is drawn: its cells (classes `<noun>-url`, `-auth`, `-secret`, ...), the kind's own
    cells (`extra(row)`, after the URL), Test connection (`test(row_id)`), Edit and Delete."""
    noun = state.records.noun

    def cell(content: rx.Component, name: str) -> rx.Component:
        return rx.table.cell(content, class_name=f"{noun}-{name}")

    def row_view(row: rx.Var) -> rx.Component:
        return kit.crud_row(
            row,
            state,
            kit.name_cell(row, state, from_env),
            cell(rx.code(row["url"], word_break="break-all"), "url"),
            *extra(row),
            cell(rx.text(row["auth"], rx.cond(row["username"] != "", " (" + row["username"] + ")", "")), "auth"),
            cell(rx.text(row["has_secret"]), "secret"),
            cell(rx.text(row["timeout_s"], " s"), "timeout"),
            cell(rx.cond(row["is_default"] != "", rx.badge("default", color_scheme="green")), "default"),
            cell(rx.text(row["enabled"]), "enabled"),
            cell(rx.text(row["source"]), "source"),
            rx.table.cell(kit.test_and_change(row, state, test(row["id"]), consequence=consequence)),
        )

    return row_view
