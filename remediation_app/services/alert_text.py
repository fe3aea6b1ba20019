"""Alert text as pages show it: bounded, whatever the webhook accepted.

The webhook accepts an alert of up to WEBHOOK_MAX_BODY_BYTES (10 MB by default): 100,000 labels, or
one label of 9 MB. Everything a page holds in a state var is sent to the browser in one websocket
frame, so pages never hold such text whole: they show labels and annotations a page of
PAIRS_PAGE_SIZE pairs at a time (sorted by name), each name cut at NAME_MAX characters and each
value at VALUE_MAX, saying how much was left out; the whole alert stays available as JSON at
GET /api/alerts/{id}. Control characters but tab and line feed are shown as U+FFFD (JSON would
spell each as six bytes). So a page of pairs is at most about 61,000 characters: typically well
under 100 KB of JSON, and under 250 KB even if every character took four bytes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

PAIRS_PAGE_SIZE = 50
NAME_MAX = 200
VALUE_MAX = 1_000
# A link (runbook, generatorURL) longer than this is not offered: the full JSON has it.
URL_MAX = 8_192
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clip(text: str, limit: int) -> tuple[str, int]:
    """`text` cut to `limit` characters, and how many characters were cut (0: none)."""
    if len(text) <= limit:
        return text, 0
    return text[:limit], len(text) - limit


def clipped(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, ending with "…" when it was longer."""
    shown, cut = clip(text, limit)
    return shown + "…" if cut else shown


def bounded_link(url: str) -> str:
    """Only http(s) URLs up to URL_MAX characters become links; "" for anything else (javascript:,
    data:, an overlong URL)."""
    if len(url) > URL_MAX:
        return ""
    return url if url.lower().startswith(("http://", "https://")) else ""


@dataclass(frozen=True)
class PairsPage:
    """One page of a label (or annotation) set: rows of [name, value, note], where note says what
    was cut ("" when nothing was)."""

    rows: list[list[str]] = field(default_factory=list)
    total: int = 0
    page: int = 0  # the page shown (a page beyond the last shows the last one)
    page_count: int = 1

    def showing(self, noun: str) -> str:
        """ "51-100 of 100,000 labels", "3 labels", or "No labels"."""
        if not self.total:
            return f"No {noun}"
        if self.total == 1:
            return f"1 {noun.removesuffix('s')}"
        if self.total <= PAIRS_PAGE_SIZE:
            return f"{self.total:,} {noun}"
        first = self.page * PAIRS_PAGE_SIZE + 1
        return f"{first:,}-{first + len(self.rows) - 1:,} of {self.total:,} {noun}"


def _visible(text: str) -> str:
    return _CONTROLS.sub("\ufffd", text)


def _note(name_cut: int, value_cut: int) -> str:
    parts = []
    if name_cut:
        parts.append(f"name cut: {name_cut:,} more characters")
    if value_cut:
        parts.append(f"{value_cut:,} more characters")
    return "; ".join(parts)


def pairs_page(mapping: dict[str, str], page: int = 0) -> PairsPage:
    """The `page`-th page (0-based, clamped) of `mapping` sorted by name, each pair clipped."""
    total = len(mapping)
    page_count = max(1, -(-total // PAIRS_PAGE_SIZE))
    page = min(max(0, page), page_count - 1)
    names = sorted(mapping)[page * PAIRS_PAGE_SIZE : (page + 1) * PAIRS_PAGE_SIZE]
    rows = []
    for name in names:
        shown_name, name_cut = clip(name, NAME_MAX)
        shown_value, value_cut = clip(str(mapping[name]), VALUE_MAX)
        rows.append([_visible(shown_name), _visible(shown_value), _note(name_cut, value_cut)])
    return PairsPage(rows=rows, total=total, page=page, page_count=page_count)
