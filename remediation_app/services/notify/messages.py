"""A notification's message, and how it is written for each target's markup.

Alert text (names, labels, annotations, model output) is untrusted and arrives as text wherever it is
read: a message is built from a headline and (label, value) fields, and rendered as plain text,
Markdown or HTML, whichever the target reads (its Apprise plugin's format), with every value escaped for
that markup. Apprise then writes Markdown in the target's own dialect (Slack's mrkdwn, Discord's, ...)
from escaped CommonMark, so escaped text stays text there too.

Every value is also made inert where chat tools look for commands in plain text: an `@` is followed
by a WORD JOINER (U+2060, invisible), so `@channel`, `@here`, `@everyone` or `<@U123>` in an alert
never notify anyone; control characters and line breaks become spaces; each value has a length cap.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from urllib.parse import quote

from remediation_app.services.text import storable_text

TEXT, MARKDOWN, HTML = "text", "markdown", "html"
FORMATS = (TEXT, MARKDOWN, HTML)
VALUE_MAX = 300
HEADLINE_MAX = 200
WORD_JOINER = "\u2060"
ELLIPSIS = "…"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_SPACES = re.compile(r"\s{2,}")
# Every ASCII punctuation character may be backslash-escaped in CommonMark; escaping them all leaves
# no emphasis, link, heading, list, code span, HTML tag or table for the text to open.
_MARKDOWN_SPECIAL = re.compile(r"([!-/:-@\[-`{-~])")


def inert(value: object, limit: int = VALUE_MAX) -> str:
    """Untrusted text made safe to show in any format before its markup's escaping: one line, at
    most `limit` characters, storable, mentions broken."""
    text = storable_text(str(value)).replace("@" + WORD_JOINER, "@")  # inert text made inert again: the same
    text = _CONTROL.sub(" ", text)
    text = _SPACES.sub(" ", text).strip()
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + ELLIPSIS
    return text.replace("@", "@" + WORD_JOINER)


def escape_markdown(text: str) -> str:
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def escape(text: str, fmt: str) -> str:
    """Already inert text, escaped for `fmt`."""
    if fmt == MARKDOWN:
        return escape_markdown(text)
    if fmt == HTML:
        return html.escape(text, quote=True)
    return text


def safe_link(url: str) -> str:
    """One of the engine's own links, with anything that could end it in a markup percent-encoded."""
    return quote(url, safe=":/?#&=%~+,;!$'*@[]-._")


@dataclass(frozen=True)
class Message:
    """`headline` and `fields` values are untrusted (made inert and escaped when rendered); labels and
    link texts are the engine's own. `kind` is Apprise's notify type: info, success, warning, failure."""

    headline: str
    fields: tuple[tuple[str, str], ...] = ()
    links: tuple[tuple[str, str], ...] = ()  # (text, url)
    kind: str = "info"
    notes: tuple[str, ...] = field(default=())  # the engine's own lines (trusted), after the fields

    def title(self) -> str:
        """The plain-text title for a target with a title field (a subject): inert, never markup."""
        return inert(self.headline, HEADLINE_MAX)

    def body(self, fmt: str, *, with_headline: bool) -> str:
        """The body in `fmt` (text, markdown or html); `with_headline` when the target has no title
        field (the headline is then the body's first line)."""
        fmt = fmt if fmt in FORMATS else TEXT
        headline = escape(self.title(), fmt)
        fields = [(escape(label, fmt), escape(inert(value), fmt)) for label, value in self.fields if value != ""]
        notes = [escape(note, fmt) for note in self.notes]
        if fmt == HTML:
            return _html(headline if with_headline else "", fields, notes, self.links)
        if fmt == MARKDOWN:
            lines = [f"**{headline}**"] if with_headline else []
            lines += [f"**{label}:** {value}" for label, value in fields] + notes
            lines += [f"[{escape_markdown(text)}](<{safe_link(url)}>)" for text, url in self.links]
            return "\n".join(lines)
        lines = [headline] if with_headline else []
        lines += [f"{label}: {value}" for label, value in fields] + notes
        lines += [f"{text}: {safe_link(url)}" for text, url in self.links]
        return "\n".join(lines)


def _html(headline: str, fields: list[tuple[str, str]], notes: list[str], links: tuple[tuple[str, str], ...]) -> str:
    parts = [f"<p><b>{headline}</b></p>"] if headline else []
    rows = [f"<b>{label}:</b> {value}" for label, value in fields] + notes
    if rows:
        parts.append("<p>" + "<br>\n".join(rows) + "</p>")
    for text, url in links:
        parts.append(f'<p><a href="{html.escape(safe_link(url), quote=True)}">{html.escape(text)}</a></p>')
    return "\n".join(parts)


def first_sentence(text: str, limit: int = VALUE_MAX) -> str:
    """The first sentence of a model's root cause (up to the first '. ', '! ', '? ' or line break)."""
    text = str(text or "").strip()
    found = re.search(r"(?<=[.!?])\s|\n", text)
    return inert(text[: found.start()] if found else text, limit)
