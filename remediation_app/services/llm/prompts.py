"""The prompts: Jinja2 templates in prompts/ (one wording of the safety text, `_untrusted_data.j2`,
included by each), and the quoting that keeps untrusted data inside its markers.

Quoting is code, not template text, so no template can forget it: data enters a prompt only
through the `quote` and `quote_json` filters. A block is `<NAME-nonce>` ... `</NAME-nonce>` with a
fresh random nonce per prompt, and `<`/`>` inside it escaped (as JSON's \\u003c/\\u003e), so nothing
in the data can close its block or imitate a marker.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import jinja2

TEMPLATES = Path(__file__).with_name("prompts")
DATA_MAX = 16_000  # characters of a JSON block (tokens cost money)
# An incident's block (storm control: one analysis instead of one per alert) may hold more.
GROUP_DATA_MAX = 32_000


def _escape(text: str) -> str:
    return text.replace("<", "\\u003c").replace(">", "\\u003e")


def quote(text: str, name: str, nonce: str) -> str:
    """Text as an untrusted data block."""
    return f"<{name}-{nonce}>\n{_escape(text)}\n</{name}-{nonce}>"


def quote_json(data: dict[str, Any], name: str, nonce: str, limit: int = DATA_MAX) -> str:
    """Data as an untrusted JSON block, at most `limit` characters (compact, then cut, when larger)."""
    text = json.dumps(data, ensure_ascii=False, indent=1, default=str)
    if len(text) > limit:
        text = json.dumps(data, ensure_ascii=False, default=str)[:limit]
    return f"<{name}-{nonce}>\n```json\n{_escape(text)}\n```\n</{name}-{nonce}>"


@functools.cache
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=False,  # noqa: S701 (a prompt is not HTML: HTML escaping would garble it; the filters quote data)
        undefined=jinja2.StrictUndefined,  # a missing value is a bug, not an empty string in a prompt
        auto_reload=False,  # the templates ship with the code: no stat() per prompt
    )
    environment.filters.update(quote=quote, quote_json=quote_json)
    return environment


def render(name: str, **values: Any) -> str:
    """The template prompts/`name` rendered (compiled once per process)."""
    return _environment().get_template(name).render(**values)
