"""docs/configuration.md is generated from Settings: it must be the generator's output, and every
setting must say what it does."""

from __future__ import annotations

from pathlib import Path

from remediation_app import config_doc
from remediation_app.settings import Settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_the_configuration_page_is_up_to_date():
    assert DOC.read_text() == config_doc.render(), (
        "docs/configuration.md is out of date: "
        "run .venv/bin/python -m remediation_app.config_doc > docs/configuration.md"
    )


def test_every_setting_is_described_and_listed():
    text = DOC.read_text()
    for name, info in Settings.model_fields.items():
        assert info.description and len(info.description) > 10, name
        assert f"| `{name.upper()}` |" in text, name
