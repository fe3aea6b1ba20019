"""SSH servers (admins only): the servers table with host-key pinning, the add/edit form with
write-only credentials, and delete after confirmation.

The state lives in admin_servers_state.py (every handler checks the admin on the server).
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from remediation_app.layout import layout
from remediation_app.pages.admin_servers_state import AdminServersState
from remediation_app.pages.terminal_panel_view import environment_badge
from remediation_app.services import ssh_servers

__all__ = ["AdminServersState", "admin_servers_page"]


def _field(label: str, control: rx.Component, hint: str = "") -> rx.Component:
    return rx.vstack(
        rx.text(label, size="1", weight="bold"),
        control,
        rx.cond(hint != "", rx.text(hint, size="1", color_scheme="gray")),
        spacing="1",
        width="100%",
    )


def _label(*children: Any) -> rx.Component:
    return rx.el.label(rx.hstack(*children, spacing="2", align="center"), font_size="var(--font-size-2)")


def _input(name: str, **props: Any) -> rx.Component:
    return rx.input(name=name, id=f"server-{name.replace('_', '-')}", width="100%", **props)


def _secret(name: str, label: str, stored: rx.Var, *, textarea: bool = False) -> rx.Component:
    """A write-only secret: empty keeps what is stored; "remove" clears it (only when one is stored)."""
    placeholder = rx.cond(stored != "", "(stored: leave empty to keep it)", "(none stored)")
    props: dict[str, Any] = {
        "name": name,
        "id": f"server-{name.replace('_', '-')}",
        "placeholder": placeholder,
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
        _label(rx.checkbox(name=f"remove_{name}", id=f"server-remove-{name.replace('_', '-')}"), " remove stored"),
    )
    return _field(label, rx.vstack(control, remove, spacing="1", width="100%"), "Write-only: never shown again.")


def _server_form() -> rx.Component:
    s, f = AdminServersState, AdminServersState.form
    editing = s.editing_id != ""
    return rx.card(
        rx.form(
            rx.vstack(
                rx.heading(rx.cond(editing, "Edit server " + f["name"], "Add a server"), size="4"),
                rx.grid(
                    _field("Name", _input("name", default_value=f["name"], required=True, max_length=100)),
                    _field("Host", _input("host", default_value=f["host"], required=True, max_length=255)),
                    _field("Port", _input("port", default_value=f["port"], type="number", min="1", max="65535")),
                    _field("Username", _input("username", default_value=f["username"], required=True, max_length=64)),
                    _field(
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
                    _field(
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
                    _label(
                        rx.checkbox(name="role_admin", default_checked=f["role_admin"] != "", id="server-role-admin"),
                        " admins",
                    ),
                    _label(
                        rx.checkbox(name="role_user", default_checked=f["role_user"] != "", id="server-role-user"),
                        " users",
                    ),
                    spacing="4",
                    align="center",
                ),
                rx.hstack(
                    rx.button(rx.cond(editing, "Save", "Add server"), type="submit", id="server-save"),
                    rx.cond(
                        editing,
                        rx.button(
                            "Cancel",
                            type="button",
                            variant="soft",
                            color_scheme="gray",
                            on_click=s.cancel_edit,
                            id="server-cancel",
                        ),
                    ),
                    spacing="3",
                ),
                spacing="3",
                width="100%",
            ),
            on_submit=s.save_server,
            key=s.form_key,
            id="server-form",
        ),
        width="100%",
        margin_bottom="1em",
    )


def _delete_button(row: rx.Var) -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.trigger(
            rx.button("Delete", size="1", variant="soft", color_scheme="red", class_name="delete-server")
        ),
        rx.alert_dialog.content(
            rx.alert_dialog.title("Delete server ", row["name"], "?"),
            rx.alert_dialog.description(
                "Its credentials are deleted; past sessions and their recordings are kept.", size="2"
            ),
            rx.hstack(
                rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", color_scheme="gray")),
                rx.alert_dialog.action(
                    rx.button(
                        "Delete",
                        color_scheme="red",
                        on_click=AdminServersState.delete_server(row["id"]),
                        class_name="confirm-delete",
                    )
                ),
                justify="end",
                spacing="3",
                margin_top="1em",
            ),
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
                rx.button(
                    "Edit",
                    size="1",
                    variant="soft",
                    class_name="edit-server",
                    on_click=AdminServersState.start_edit(row["id"]),
                ),
                _delete_button(row),
                spacing="2",
            )
        ),
        class_name="server-row",
        id="server-row-" + row["name"],
    )


def _servers_table() -> rx.Component:
    headers = ["Name", "Address", "Authentication", "Roles", "Host key", ""]
    return rx.table.root(
        rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in headers])),
        rx.table.body(rx.foreach(AdminServersState.rows, _server_row), id="server-rows"),
        width="100%",
        variant="surface",
    )


def admin_servers_page() -> rx.Component:
    s = AdminServersState
    return layout(
        rx.cond(s.notice != "", rx.callout(s.notice, color_scheme="green", id="servers-notice", margin_bottom="1em")),
        rx.cond(s.error != "", rx.callout(s.error, color_scheme="red", id="servers-error", margin_bottom="1em")),
        _server_form(),
        rx.cond(
            s.loaded & (s.rows.length() == 0),  # type: ignore[attr-defined]
            rx.callout("No server yet: add one above.", color_scheme="gray", id="no-servers", margin_bottom="1em"),
        ),
        _servers_table(),
        rx.cond(s.loaded, rx.box(id="servers-loaded", display="none")),  # for tests: the form is final
        title="SSH servers",
    )
