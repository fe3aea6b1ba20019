"""docs/configuration.md, generated from the Settings class (each field's description, default and
bounds), so that the page cannot drift from the code. tests/unit/test_config_doc.py fails when the
file is out of date.

    .venv/bin/python -m remediation_app.config_doc > docs/configuration.md
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Any

from annotated_types import Ge, Gt, Le, Lt
from pydantic import SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from remediation_app.settings import Settings

HEADER = """# Configuration

Every setting comes from the environment (upper-case names; an empty value counts as unset where the
default is "unset"). This page is generated from `remediation_app/settings.py`: change a description
there and run `.venv/bin/python -m remediation_app.config_doc > docs/configuration.md`.

| variable | default | meaning |
|---|---|---|
"""
FOOTER = """
Read by the libraries underneath, not by `Settings`:

| variable | default | meaning |
|---|---|---|
| `PROMETHEUS_MULTIPROC_DIR` | `DATA_DIR/metrics/<host>/<server>` | where the workers keep their metric \
values (docs/monitoring.md) |
| `GRANIAN_WORKERS` | 1 without `REDIS_URL` | worker processes of the server (several need `REDIS_URL`) |
| `REFLEX_API_URL` | `http://<host>:PORT` | where the browser finds the backend, baked into the frontend \
build (behind a proxy on another host or port) |
| `REFLEX_<FIELD>` | | any other Reflex setting |
"""
_BOUNDS = ((Ge, "≥"), (Gt, ">"), (Le, "≤"), (Lt, "<"))


def _default(info: FieldInfo) -> str:
    value = info.default
    if value is PydanticUndefined or value is None or (isinstance(value, SecretStr) and not value):
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, Path):
        value = str(value)
    return f"`{value}`" if value != "" else "empty"


def _bounds(info: FieldInfo) -> str:
    parts = []
    for item in info.metadata:
        for kind, sign in _BOUNDS:
            if isinstance(item, kind):
                parts.append(f"{sign} {getattr(item, kind.__name__.lower())}")
    return f" ({', '.join(parts)})" if parts else ""


def _row(name: str, info: FieldInfo) -> str:
    meaning: Any = (info.description or "").replace("|", "\\|").replace("\n", " ")
    return f"| `{name.upper()}` | {_default(info)} | {meaning}{_bounds(info)} |\n"


def render() -> str:
    return HEADER + "".join(_row(name, info) for name, info in Settings.model_fields.items()) + FOOTER


if __name__ == "__main__":
    print(render(), end="")
