"""LLM providers (admins only): the providers table (the one from LLM_MODEL read-only), the add/edit
form with a write-only API key, delete after confirmation, and Test connection per provider.

The state lives in admin_providers_state.py (every handler checks the admin on the server).
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from remediation_app.layout import layout
from remediation_app.pages.admin_providers_state import AdminProvidersState
from remediation_app.services import providers

__all__ = ["AdminProvidersState", "admin_providers_page"]

MODEL_HINT = (
    "A LiteLLM model string: anthropic/claude-sonnet-4-5, openai/gpt-4o-mini, gemini/gemini-2.0-flash, "
    "ollama/llama3, or openai/<model> with an API base for any OpenAI-compatible endpoint."
)


def _field(label: str, control: rx.Component, hint: str = "") -> rx.Component:
    return rx.vstack(
        rx.text(label, size="1", weight="bold"),
        control,
        rx.cond(hint != "", rx.text(hint, size="1", color_scheme="gray")),
        spacing="1",
        width="100%",
    )


def _label(*children: Any, size: str = "2") -> rx.Component:
    return rx.el.label(rx.hstack(*children, spacing="2", align="center"), font_size=f"var(--font-size-{size})")


def _input(name: str, **props: Any) -> rx.Component:
    return rx.input(name=name, id=f"provider-{name.replace('_', '-')}", width="100%", **props)


def _provider_form() -> rx.Component:
    s, f = AdminProvidersState, AdminProvidersState.form
    editing = s.editing_id != ""
    return rx.card(
        rx.form(
            rx.vstack(
                rx.heading(rx.cond(editing, "Edit provider " + f["name"], "Add a provider"), size="4"),
                rx.grid(
                    _field("Name", _input("name", default_value=f["name"], required=True, max_length=100)),
                    _field(
                        "Model",
                        _input(
                            "model",
                            default_value=f["model"],
                            required=True,
                            max_length=255,
                            placeholder="openai/gpt-4o-mini",
                        ),
                        MODEL_HINT,
                    ),
                    _field(
                        "API base (optional)",
                        _input(
                            "api_base",
                            default_value=f["api_base"],
                            max_length=1024,
                            placeholder="https://llm.example/v1",
                        ),
                        "For Ollama (http://host:11434) or any OpenAI-compatible endpoint.",
                    ),
                    _field(
                        "API key",
                        _input(
                            "api_key",
                            type="password",
                            auto_complete="new-password",
                            max_length=providers.MAX_KEY,
                            placeholder=rx.cond(
                                f["has_api_key"] != "", "(stored: leave empty to keep it)", "(none stored)"
                            ),
                        ),
                        "Write-only: never shown again.",
                    ),
                    _field(
                        "Temperature",
                        _input(
                            "temperature", default_value=f["temperature"], type="number", step="0.1", min="0", max="2"
                        ),
                    ),
                    _field(
                        "Max tokens",
                        _input("max_tokens", default_value=f["max_tokens"], type="number", step="1", min="16"),
                    ),
                    _field(
                        "Timeout (seconds)",
                        _input("timeout_s", default_value=f["timeout_s"], type="number", step="1", min="1"),
                    ),
                    columns="3",
                    spacing="3",
                    width="100%",
                ),
                rx.hstack(
                    _label(
                        rx.checkbox(name="is_default", default_checked=f["is_default"] != "", id="provider-default"),
                        " Default",
                        size="2",
                    ),
                    _label(
                        rx.checkbox(name="enabled", default_checked=f["enabled"] != "", id="provider-enabled"),
                        " Enabled",
                        size="2",
                    ),
                    rx.cond(
                        editing & (f["has_api_key"] != ""),
                        _label(
                            rx.checkbox(name="remove_api_key", id="provider-remove-key"),
                            " Remove stored key",
                            size="2",
                        ),
                    ),
                    spacing="5",
                    align="center",
                ),
                rx.hstack(
                    rx.button(rx.cond(editing, "Save", "Add provider"), type="submit", id="provider-save"),
                    rx.cond(
                        editing,
                        rx.button(
                            "Cancel",
                            type="button",
                            variant="soft",
                            color_scheme="gray",
                            on_click=s.cancel_edit,
                            id="provider-cancel",
                        ),
                    ),
                    spacing="3",
                ),
                rx.cond(s.error != "", rx.callout(s.error, color_scheme="red", id="providers-error", width="100%")),
                spacing="3",
                width="100%",
            ),
            on_submit=s.save_provider,
            key=s.form_key,
            id="provider-form",
        ),
        width="100%",
        margin_bottom="1em",
    )


def _delete_button(row: rx.Var) -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.trigger(
            rx.button("Delete", size="1", variant="soft", color_scheme="red", class_name="delete-provider")
        ),
        rx.alert_dialog.content(
            rx.alert_dialog.title("Delete provider ", row["name"], "?"),
            rx.alert_dialog.description("Analyses made with it are kept; analyses queued for it fail.", size="2"),
            rx.hstack(
                rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", color_scheme="gray")),
                rx.alert_dialog.action(
                    rx.button(
                        "Delete",
                        color_scheme="red",
                        on_click=AdminProvidersState.delete_provider(row["id"]),
                        class_name="confirm-delete",
                    )
                ),
                justify="end",
                spacing="3",
                margin_top="1em",
            ),
        ),
    )


def _provider_row(row: rx.Var) -> rx.Component:
    from_env = row["source"] == "environment"
    return rx.table.row(
        rx.table.cell(
            rx.text(row["name"], class_name="provider-name"),
            rx.cond(
                from_env, rx.text("from LLM_MODEL (read-only)", size="1", color_scheme="gray", class_name="from-env")
            ),
        ),
        rx.table.cell(rx.code(row["model"]), class_name="provider-model"),
        rx.table.cell(rx.text(row["api_base"], word_break="break-all"), class_name="provider-api-base"),
        rx.table.cell(rx.text(row["has_api_key"]), class_name="provider-key"),
        rx.table.cell(
            rx.cond(row["is_default"] != "", rx.badge("default", color_scheme="green")), class_name="provider-default"
        ),
        rx.table.cell(rx.text(row["enabled"]), class_name="provider-enabled"),
        rx.table.cell(rx.text(row["temperature"])),
        rx.table.cell(rx.text(row["max_tokens"])),
        rx.table.cell(rx.text(row["timeout_s"], " s")),
        rx.table.cell(
            rx.vstack(
                rx.hstack(
                    rx.button(
                        "Test connection",
                        size="1",
                        variant="soft",
                        class_name="test-provider",
                        loading=row["test_status"] == "testing",
                        on_click=AdminProvidersState.test_provider(row["id"]),  # type: ignore[misc]
                    ),
                    rx.cond(
                        ~from_env,
                        rx.fragment(
                            rx.button(
                                "Edit",
                                size="1",
                                variant="soft",
                                class_name="edit-provider",
                                on_click=AdminProvidersState.start_edit(row["id"]),
                            ),
                            _delete_button(row),
                        ),
                    ),
                    spacing="2",
                ),
                rx.cond(
                    (row["test_status"] != "") & (row["test_status"] != "testing"),
                    rx.text(
                        row["test_message"],
                        color_scheme=rx.cond(row["test_status"] == "ok", "green", "red"),
                        size="1",
                        white_space="pre-wrap",
                        word_break="break-word",
                        class_name="test-result test-" + row["test_status"],
                    ),
                ),
                spacing="1",
                max_width="28em",
            )
        ),
        class_name="provider-row",
        id="provider-row-" + row["name"],
    )


def _providers_table() -> rx.Component:
    headers = ["Name", "Model", "API base", "Key stored", "Default", "Enabled", "Temp.", "Max tokens", "Timeout", ""]
    return rx.table.root(
        rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in headers])),
        rx.table.body(rx.foreach(AdminProvidersState.rows, _provider_row), id="provider-rows"),
        width="100%",
        variant="surface",
    )


def admin_providers_page() -> rx.Component:
    s = AdminProvidersState
    return layout(
        rx.cond(s.notice != "", rx.callout(s.notice, color_scheme="green", id="providers-notice", margin_bottom="1em")),
        _provider_form(),
        rx.cond(
            s.loaded & (s.rows.length() == 0),  # type: ignore[attr-defined]
            rx.callout(
                "No provider yet: add one above, or set LLM_MODEL (with LLM_API_KEY and LLM_API_BASE as needed).",
                color_scheme="gray",
                id="no-providers",
                margin_bottom="1em",
            ),
        ),
        _providers_table(),
        title="LLM providers",
    )
