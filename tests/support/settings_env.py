"""Environment variables set for the length of a block, with the settings re-read on both sides."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from remediation_app.settings import get_settings


@contextlib.contextmanager
def settings_env(**values: str) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    get_settings.cache_clear()
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        get_settings.cache_clear()
