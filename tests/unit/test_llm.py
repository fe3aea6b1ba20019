"""The LiteLLM wrapper: imported lazily and offline, errors classified, keys never printed."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from remediation_app.services.llm.config import ProviderConfig
from remediation_app.services.llm.errors import LLMError, classify
from remediation_app.services.llm.sdk import litellm_module


def test_the_webhook_path_does_not_import_litellm() -> None:
    code = textwrap.dedent(
        """
        import sys
        import remediation_app.api, remediation_app.services.alerts.ingest, remediation_app.services.llm.worker
        assert "litellm" not in sys.modules, "litellm imported on the request path"
        from remediation_app.services.llm.sdk import litellm_module
        import os
        litellm_module()
        assert os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] == "True"
        print("ok")
        """
    )
    env = {"PATH": "/usr/bin:/bin"}  # no LITELLM_LOCAL_MODEL_COST_MAP: the module sets it itself
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


def test_repr_hides_the_key() -> None:
    config = ProviderConfig(id=1, name="p", model="openai/x", api_key="sk-secret-value")
    assert "sk-secret-value" not in repr(config) and "sk-secret-value" not in str(config)


@pytest.mark.parametrize(
    ("name", "transient"),
    [
        ("Timeout", True),
        ("RateLimitError", True),
        ("InternalServerError", True),
        ("ServiceUnavailableError", True),
        ("APIConnectionError", True),
        ("AuthenticationError", False),
        ("BadRequestError", False),
        ("NotFoundError", False),
        ("ContextWindowExceededError", False),
    ],
)
def test_litellm_errors_are_classified(name: str, transient: bool) -> None:
    litellm = litellm_module()
    cls = getattr(litellm, name)
    error = classify(cls(message=f"boom {name}", llm_provider="openai", model="gpt-4o-mini"))
    assert isinstance(error, LLMError) and error.transient is transient
    expected = "the prompt is too long for this model" if name == "ContextWindowExceededError" else name
    assert error.args[0].startswith(expected) and name in error.args[0]


def test_unknown_errors_are_not_retried_unless_they_carry_a_5xx() -> None:
    assert classify(ValueError("weird")).transient is False
    odd = RuntimeError("gateway")
    odd.status_code = 502  # type: ignore[attr-defined]
    assert classify(odd).transient is True and classify(odd).status == 502


def test_errors_are_scrubbed_of_the_key_and_nul() -> None:
    from remediation_app.services.llm.errors import scrub

    provider = ProviderConfig(
        id=1, name="p", model="openai/x", api_key="sk-very-secret", api_base="https://u:hunter2pw@proxy.example/v1"
    )
    text = scrub("401: key sk-very-secret rejected by https://u:hunter2pw@proxy.example \x00", provider)
    assert "sk-very-secret" not in text and "hunter2pw" not in text and "\x00" not in text
    litellm = litellm_module()
    error = classify(
        litellm.AuthenticationError(message="bad key sk-very-secret", llm_provider="openai", model="x"), provider
    )
    assert "sk-very-secret" not in str(error) and "***" in str(error)
