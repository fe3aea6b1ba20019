"""SSH servers (admins only): the servers table with host-key pinning, the add/edit form with
write-only credentials, and delete after confirmation.

The state is in servers_state.py (every handler checks the admin on the server).
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from remediation_app.components.badges import environment_badge
from remediation_app.components.callouts import message
from remediation_app.components.table import data_table
from remediation_app.pages.admin.kit import (
    check_label,
    edit_and_delete,
    edit_form,
    empty_hint,
    field,
    form_input,
    secret_placeholder,
)
from remediation_app.pages.admin.servers.servers_state import AdminServersState
from remediation_app.pages.page import page
from remediation_app.services import ssh_servers

HEADERS = ["Name", "Address", "Authentication", "Roles", "Host key", ""]


def _input(name: str, **props: object) -> rx.Component:
    return form_input("server", name, **props)


def _secret(name: str, label: str, stored: rx.Var, *, textarea: bool = False) -> rx.Component:
    """A write-only secret: empty keeps what is stored; "remove" clears it (only when one is stored)."""
    props: dict[str, Any] = {
        "name": name,
        "id": f"server-{name.replace('_', '-')}",
        "placeholder": secret_placeholder(stored),
        "width": "100%",
        "max_length": ssh_servers.SECRET_MAX,
    }
    control = (
        rx.text_area(rows="4", spellcheck=False, auto_complete=False, font_family="monospace", **props)
        if textarea
        else rx.input(type="password", auto_complete="new-password", **props)
    )
    remove = rx.cond(
        (AdminServersState.editing_id != "") & (stored != ""),
        check_label(rx.checkbox(name=f"remove_{name}", id=f"server-remove-{name.replace('_', '-')}"), " remove stored"),
    )
    return field(label, rx.vstack(control, remove, spacing="1", width="100%"), "Write-only: never shown again.")


def _server_form() -> rx.Component:
    s, f = AdminServersState, AdminServersState.form
    return edit_form(
        s,
        "server",
        rx.grid(
            field("Name", _input("name", default_value=f["name"], required=True, max_length=100)),
            field("Host", _input("host", default_value=f["host"], required=True, max_length=255)),
            field("Port", _input("port", default_value=f["port"], type="number", min="1", max="65535")),
            field("Username", _input("username", default_value=f["username"], required=True, max_length=64)),
            field(
                "Authentication",
                rx.el.select(
                    rx.el.option("private key", value="key"),
                    rx.el.option("password", value="password"),
                    name="auth_method",
                    default_value=f["auth_method"],
                    id="server-auth-method",
                    style={"padding": "0.3em"},
                ),
            ),
            field(
                "Environment",
                _input("environment", default_value=f["environment"], max_length=64, placeholder="prod"),
                "A tag shown next to the server (prod, staging, ...).",
            ),
            columns="3",
            spacing="3",
            width="100%",
        ),
        rx.grid(
            _secret("private_key", "Private key (OpenSSH or PEM)", f["has_private_key"], textarea=True),
            rx.vstack(
                _secret("passphrase", "Key passphrase", f["has_passphrase"]),
                _secret("password", "Password", f["has_password"]),
                width="100%",
            ),
            columns="2",
            spacing="3",
            width="100%",
        ),
        rx.hstack(
            rx.text("Who may open it:", size="2"),
            check_label(
                rx.checkbox(name="role_admin", default_checked=f["role_admin"] != "", id="server-role-admin"), " admins"
            ),
            check_label(
                rx.checkbox(name="role_user", default_checked=f["role_user"] != "", id="server-role-user"), " users"
            ),
            spacing="4",
            align="center",
        ),
        on_submit=s.save_server,
    )


def _host_key(row: rx.Var) -> rx.Component:
    fetched = row["key_status"] == "fetched"
    return rx.vstack(
        rx.cond(
            row["fingerprint"] != "",
            rx.text("accepted: ", rx.code(row["fingerprint"], class_name="accepted-fingerprint"), size="1"),
            rx.text("no accepted key: nobody can open it yet", size="1", color_scheme="orange", class_name="no-key"),
        ),
        rx.cond(
            fetched,
            rx.vstack(
                rx.text(
                    "presented: ",
                    rx.code(row["key_algorithm"], class_name="key-algorithm"),
                    " ",
                    rx.code(row["key_fingerprint"], class_name="key-fingerprint"),
                    size="1",
                ),
                rx.match(
                    row["key_match"],
                    ("yes", rx.badge("matches the accepted key", color_scheme="green", class_name="key-match")),
                    ("no", rx.badge("DIFFERENT from the accepted key", color_scheme="red", class_name="key-match")),
                    rx.badge("not accepted yet", color_scheme="orange", class_name="key-match"),
                ),
                rx.cond(
                    row["key_match"] != "yes",
                    rx.button(
                        "Accept this key",
                        size="1",
                        color_scheme=rx.cond(row["key_match"] == "no", "red", "green"),
                        on_click=AdminServersState.accept_host_key(row["id"]),  # type: ignore[misc]
                        class_name="accept-key",
                    ),
                ),
                spacing="1",
            ),
        ),
        rx.cond(
            row["key_status"] == "failed",
            rx.text(row["key_error"], size="1", color_scheme="red", class_name="key-error"),
        ),
        rx.button(
            "Fetch host key",
            size="1",
            variant="soft",
            loading=row["key_status"] == "fetching",
            on_click=AdminServersState.fetch_host_key(row["id"]),  # type: ignore[misc]
            class_name="fetch-key",
        ),
        spacing="1",
        max_width="30em",
    )


def _server_row(row: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.text(row["name"], class_name="server-name", weight="bold"),
            environment_badge(row["environment"], class_name="environment"),
        ),
        rx.table.cell(rx.code(row["username"], "@", row["host"], ":", row["port"]), class_name="server-address"),
        rx.table.cell(rx.text(row["auth_method"], " (stored: ", row["credentials"], ")"), class_name="server-auth"),
        rx.table.cell(rx.text(row["allowed_roles"]), class_name="server-roles"),
        rx.table.cell(_host_key(row)),
        rx.table.cell(
            rx.hstack(
                *edit_and_delete(
                    row,
                    "server",
                    AdminServersState,
                    delete=AdminServersState.delete_server(row["id"]),
                    consequence="Its credentials are deleted; past sessions and their recordings are kept.",
                ),
                spacing="2",
            )
        ),
        class_name="server-row",
        id="server-row-" + row["name"],
    )


@page("/admin/servers", "SSH servers", role="admin", on_load=AdminServersState.load)
def admin_servers_page() -> tuple[rx.Component, ...]:
    s = AdminServersState
    return (
        message(s.notice, "green", id="servers-notice", margin_bottom="1em"),
        message(s.error, "red", id="servers-error", margin_bottom="1em"),
        _server_form(),
        empty_hint(s, "No server yet: add one above.", id="no-servers"),
        data_table(HEADERS, s.rows, _server_row, body_id="server-rows"),
        rx.cond(s.loaded, rx.box(id="servers-loaded", display="none")),  # for tests: the form is final
    )
