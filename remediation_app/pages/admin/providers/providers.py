"""LLM providers (admins only): the providers table (the one from LLM_MODEL read-only), the add/edit
form with a write-only API key, delete after confirmation, and Test connection per provider.

The state is in providers_state.py (every handler checks the admin on the server).
"""

from __future__ import annotations

import reflex as rx

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
from remediation_app.pages.admin.providers.providers_state import AdminProvidersState
from remediation_app.pages.page import page
from remediation_app.services import providers

MODEL_HINT = (
    "A LiteLLM model string: anthropic/claude-sonnet-4-5, openai/gpt-4o-mini, gemini/gemini-2.0-flash, "
    "ollama/llama3, or openai/<model> with an API base for any OpenAI-compatible endpoint."
)


def _input(name: str, **props: object) -> rx.Component:
    return form_input("provider", name, **props)


def _provider_form() -> rx.Component:
    s, f = AdminProvidersState, AdminProvidersState.form
    return edit_form(
        s,
        "provider",
        rx.grid(
            field("Name", _input("name", default_value=f["name"], required=True, max_length=100)),
            field(
                "Model",
                _input(
                    "model", default_value=f["model"], required=True, max_length=255, placeholder="openai/gpt-4o-mini"
                ),
                MODEL_HINT,
            ),
            field(
                "API base (optional)",
                _input("api_base", default_value=f["api_base"], max_length=1024, placeholder="https://llm.example/v1"),
                "For Ollama (http://host:11434) or any OpenAI-compatible endpoint.",
            ),
            field(
                "API key",
                _input(
                    "api_key",
                    type="password",
                    auto_complete="new-password",
                    max_length=providers.MAX_KEY,
                    placeholder=secret_placeholder(f["has_api_key"]),
                ),
                "Write-only: never shown again.",
            ),
            field(
                "Temperature",
                _input("temperature", default_value=f["temperature"], type="number", step="0.1", min="0", max="2"),
            ),
            field("Max tokens", _input("max_tokens", default_value=f["max_tokens"], type="number", step="1", min="16")),
            field(
                "Timeout (seconds)", _input("timeout_s", default_value=f["timeout_s"], type="number", step="1", min="1")
            ),
            columns="3",
            spacing="3",
            width="100%",
        ),
        rx.hstack(
            check_label(
                rx.checkbox(name="is_default", default_checked=f["is_default"] != "", id="provider-default"), " Default"
            ),
            check_label(
                rx.checkbox(name="enabled", default_checked=f["enabled"] != "", id="provider-enabled"), " Enabled"
            ),
            rx.cond(
                (s.editing_id != "") & (f["has_api_key"] != ""),
                check_label(rx.checkbox(name="remove_api_key", id="provider-remove-key"), " Remove stored key"),
            ),
            spacing="5",
            align="center",
        ),
        on_submit=s.save_provider,
        after=(message(s.error, "red", id="providers-error", width="100%"),),
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
                            *edit_and_delete(
                                row,
                                "provider",
                                AdminProvidersState,
                                delete=AdminProvidersState.delete_provider(row["id"]),
                                consequence="Analyses made with it are kept; analyses queued for it fail.",
                            )
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


@page("/admin/providers", "LLM providers", role="admin", on_load=AdminProvidersState.load)
def admin_providers_page() -> tuple[rx.Component, ...]:
    s = AdminProvidersState
    headers = ["Name", "Model", "API base", "Key stored", "Default", "Enabled", "Temp.", "Max tokens", "Timeout", ""]
    return (
        message(s.notice, "green", id="providers-notice", margin_bottom="1em"),
        _provider_form(),
        empty_hint(
            s,
            "No provider yet: add one above, or set LLM_MODEL (with LLM_API_KEY and LLM_API_BASE as needed).",
            id="no-providers",
        ),
        data_table(headers, s.rows, _provider_row, body_id="provider-rows"),
    )
