"""LLM providers (admins only): the providers table (the one from LLM_MODEL read-only), the add/edit
form with a write-only API key, delete after confirmation, and Test connection per provider.

The state is in providers_state.py (every handler checks the admin on the server).
"""

from __future__ import annotations

import reflex as rx

from remediation_app.pages.admin import kit
from remediation_app.pages.admin.providers.providers_state import AdminProvidersState as S
from remediation_app.services.llm import providers

MODEL_HINT = (
    "A LiteLLM model string: anthropic/claude-sonnet-4-5, openai/gpt-4o-mini, gemini/gemini-2.0-flash, "
    "ollama/llama3, or openai/<model> with an API base for any OpenAI-compatible endpoint."
)


TOOL_CALLING_HINT = (
    "Whether analyses let the model call tools (PromQL, alert search, history): auto asks LiteLLM "
    "whether the model supports it; off gathers the evidence up front only."
)


TOOL_CALLING_OPTIONS = [("auto", "auto"), ("on", "on"), ("off", "off")]


def _provider_form() -> rx.Component:
    api_key = kit.secret_input(S, "api_key", max_length=providers.MAX_KEY)
    return kit.edit_form(
        S,
        rx.grid(
            kit.input_field(S, "name", "Name", required=True, max_length=100),
            kit.input_field(
                S, "model", "Model", MODEL_HINT, required=True, max_length=255, placeholder="openai/gpt-4o-mini"
            ),
            kit.input_field(
                S,
                "api_base",
                "API base (optional)",
                "For Ollama (http://host:11434) or any OpenAI-compatible endpoint.",
                max_length=1024,
                placeholder="https://llm.example/v1",
            ),
            kit.field("API key", api_key, "Write-only: never shown again."),
            kit.input_field(S, "temperature", "Temperature", type="number", step="0.1", min="0", max="2"),
            kit.input_field(S, "max_tokens", "Max tokens", type="number", step="1", min="16"),
            kit.input_field(S, "timeout_s", "Timeout (seconds)", type="number", step="1", min="1"),
            kit.field("Tool calling", kit.select_input(S, "tool_calling", TOOL_CALLING_OPTIONS), TOOL_CALLING_HINT),
            columns="3",
            spacing="3",
            width="100%",
        ),
        rx.hstack(
            kit.form_checkbox(S, "is_default", "Default", id="default"),
            kit.form_checkbox(S, "enabled", "Enabled", id="enabled"),
            kit.form_checkbox(S, "local", "Local (self-hosted): prompts skip redaction", id="local"),
            kit.remove_secret(S, "api_key", "Remove stored key", id="remove-key"),
            spacing="5",
            align="center",
        ),
    )


def _provider_row(row: rx.Var) -> rx.Component:
    test = S.test_provider(row["id"])  # type: ignore[misc]
    consequence = "Analyses made with it are kept; analyses queued for it fail."
    return kit.crud_row(
        row,
        S,
        kit.name_cell(row, S, "from LLM_MODEL (read-only)"),
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
        rx.table.cell(rx.text(row["tool_calling"]), class_name="provider-tool-calling"),
        rx.table.cell(rx.text(row["local"]), class_name="provider-local"),
        rx.table.cell(kit.test_and_change(row, S, test, consequence=consequence)),
    )


admin_providers_page = kit.crud_page(
    "/admin/providers",
    "LLM providers",
    S,
    form=_provider_form,
    empty="No provider yet: add one above, or set LLM_MODEL (with LLM_API_KEY and LLM_API_BASE as needed).",
    headers=[
        "Name",
        "Model",
        "API base",
        "Key stored",
        "Default",
        "Enabled",
        "Temp.",
        "Max tokens",
        "Timeout",
        "Tools",
        "Local",
        "",
    ],
    row=_provider_row,
)
