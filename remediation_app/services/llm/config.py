"""What one call needs: the provider's model, endpoint, key and limits (resolved by providers.py)."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_TEMPERATURE = 0.2
TOOL_CALLING_MODES = ("auto", "on", "off")


@dataclass(frozen=True)
class ProviderConfig:
    """What a call needs. `id` 0 is the provider from the environment (LLM_MODEL)."""

    id: int
    name: str
    model: str
    api_base: str = ""
    api_key: str = ""
    temperature: float = DEFAULT_TEMPERATURE
    max_tokens: int = 1500
    timeout_s: float = 60.0
    # Function calling: "on", "off", or "auto" (what LiteLLM knows of the model); client.supports_tools.
    tool_calling: str = "auto"
    # A self-hosted endpoint: prompts to it may skip redaction (the data stays on our side).
    local: bool = False

    def __repr__(self) -> str:  # never print the key
        return f"ProviderConfig(id={self.id}, name={self.name!r}, model={self.model!r})"
