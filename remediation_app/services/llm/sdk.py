"""LiteLLM, the library every call goes through: imported lazily, offline and quiet.

Importing it takes seconds and must never sit on the webhook path, so nothing imports it at module
level: `litellm_module()` does, once, with LITELLM_LOCAL_MODEL_COST_MAP=True (no network call for
the price list at import). `warm_up` does it in a thread when the app starts.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
from typing import Any


@functools.cache
def litellm_module() -> Any:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    litellm.suppress_debug_info = True  # no "Give Feedback / Get Help" banner on every error
    for name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy"):
        logging.getLogger(name).setLevel(logging.WARNING)
    litellm.drop_params = True  # a provider that lacks an optional parameter still answers
    return litellm


async def warm_up() -> None:
    """Import LiteLLM in a thread at startup, so the first analysis does not pay for it."""
    await asyncio.to_thread(litellm_module)


async def loaded() -> Any:
    """LiteLLM for a call: imported in a thread the first time (never on the event loop), then
    without a thread hop (calls are hot: one hop per call showed in the analysis benchmark)."""
    if litellm_module.cache_info().currsize:
        return litellm_module()
    return await asyncio.to_thread(litellm_module)
