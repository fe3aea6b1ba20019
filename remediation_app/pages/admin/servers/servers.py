"""SSH servers (admins only): the servers table with host-key pinning, the add/edit form with
write-only credentials, and delete after confirmation.

The state is in servers_state.py (every handler checks the admin on the server).
"""

from __future__ import annotations

import reflex as rx

from remediation_app.components.badges import environment_badge
from remediation_app.components.table import row_button
from remediation_app.pages.admin import kit
from remediation_app.pages.admin.servers.servers_state import AdminServersState as S
from remediation_app.services.terminal import servers

AUTH_METHODS = [("key", "private key"), ("password", "password")]


def _private_key() -> rx.Component:
    """The private key: a write-only secret too, in a text area (an OpenSSH or PEM block)."""
    return rx.text_area(
        name="private_key",
        id="server-private-key",
        placeholder=kit.secret_placeholder(S.form["has_private_key"]),
        width="100%",
        max_length=servers.SECRET_MAX,
        rows="4",
        spellcheck=False,
        auto_complete=False,
        font_family="monospace",
    )


def _secret(name: str, label: str, control: rx.Component | None = None) -> rx.Component:
    """A write-only secret: empty keeps what is stored; "remove" clears it (only when one is stored)."""
    control = kit.secret_input(S, name, max_length=servers.SECRET_MAX) if control is None else control
    remove = kit.remove_secret(S, name, "remove stored", id=f"remove-{name.replace('_', '-')}")
    return kit.field(label, rx.vstack(control, remove, spacing="1", width="100%"), "Write-only: never shown again.")


def _server_form() -> rx.Component:
    return kit.edit_form(
        S,
        rx.grid(
            kit.input_field(S, "name", "Name", required=True, max_length=100),
            kit.input_field(S, "host", "Host", required=True, max_length=255),
            kit.input_field(S, "port", "Port", type="number", min="1", max="65535"),
            kit.input_field(S, "username", "Username", required=True, max_length=64),
            kit.field("Authentication", kit.select_input(S, "auth_method", AUTH_METHODS)),
            kit.input_field(
                S,
                "environment",
                "Environment",
                "A tag shown next to the server (prod, staging, ...).",
                max_length=64,
                placeholder="prod",
            ),
            columns="3",
            spacing="3",
            width="100%",
        ),
        rx.grid(
            _secret("private_key", "Private key (OpenSSH or PEM)", _private_key()),
            rx.vstack(
                _secret("passphrase", "Key passphrase"),
                _secret("password", "Password"),
                width="100%",
            ),
            columns="2",
            spacing="3",
            width="100%",
        ),
        rx.hstack(
            rx.text("Who may open it:", size="2"),
            kit.form_checkbox(S, "role_admin", "admins", id="role-admin"),
            kit.form_checkbox(S, "role_user", "users", id="role-user"),
            spacing="4",
            align="center",
        ),
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
                        on_click=S.accept_host_key(row["id"]),  # type: ignore[misc]
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
        row_button(
            "Fetch host key",
            S.fetch_host_key(row["id"]),  # type: ignore[misc]
            loading=row["key_status"] == "fetching",
            class_name="fetch-key",
        ),
        spacing="1",
        max_width="30em",
    )


def _server_row(row: rx.Var) -> rx.Component:
    consequence = "Its credentials are deleted; past sessions and their recordings are kept."
    return kit.crud_row(
        row,
        S,
        rx.table.cell(
            rx.text(row["name"], class_name="server-name", weight="bold"),
            environment_badge(row["environment"], class_name="environment"),
        ),
        rx.table.cell(rx.code(row["username"], "@", row["host"], ":", row["port"]), class_name="server-address"),
        rx.table.cell(rx.text(row["auth_method"], " (stored: ", row["credentials"], ")"), class_name="server-auth"),
        rx.table.cell(rx.text(row["allowed_roles"]), class_name="server-roles"),
        rx.table.cell(_host_key(row)),
        rx.table.cell(kit.edit_and_delete(row, S, consequence=consequence)),
    )


admin_servers_page = kit.crud_page(
    "/admin/servers",
    "SSH servers",
    S,
    form=_server_form,
    empty="No server yet: add one above.",
    headers=["Name", "Address", "Authentication", "Roles", "Host key", ""],
    row=_server_row,
)
