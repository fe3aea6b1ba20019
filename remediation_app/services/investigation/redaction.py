"""The one redaction step before anything goes to a provider that is not marked local.

A `Redactor` lives for one analysis, or one chat conversation about it. Every secret found
(secret_scan: detect-secrets' detectors and the few kinds it misses) becomes a placeholder such as
`[REDACTED-1:aws-key]`, the same one each time the same secret comes back; the placeholder holds a
number and a kind, never a part of the secret. `counts` (distinct secrets by kind), `total` and
`replaced` (occurrences) are what the analysis stores about it.

`to_state()` is what to store to carry the placeholders over to the chat (`Redactor.from_state`). It
holds no secret text: keyed digests of the secrets (HMAC-SHA256 under a random key kept beside them)
with their numbers and kinds. A digest can still confirm a guessed secret, so the state belongs with
the evidence it came from, never in logs or API answers. A value found only by its surroundings
(`password=x`) is also replaced where it occurs without them; that memory of the plain values lives
in this object only, so a Redactor rebuilt from state finds such a value only where it is detected.

Redaction is CPU-bound and linear (about half a second a megabyte): the methods are synchronous and
callers run anything bigger than a prompt in a thread (`await asyncio.to_thread(redactor.redact,
text)`). One Redactor may be shared by threads. Nothing here logs.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
from bisect import bisect_right
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from remediation_app.services.investigation.secret_scan import (
    CONTEXT,
    SPECIFIC,
    Finding,
    find_secrets,
    named_secret_kind,
)

STATE_VERSION = 1
MAX_DEPTH = 100  # nesting of redact_data's input
_KIND = re.compile(r"[a-z0-9-]{1,40}")
_DIGEST = re.compile(r"[0-9a-f]{64}")
# Values known only by their surroundings are looked for again everywhere: the first 256 of them, of
# at least 8 characters and not a plain word (a password "changeme1", not "password").
_REPLAY_MAX = 256
_REPLAY_MIN_LENGTH = 8


class RedactionStateError(ValueError):
    """A stored redaction state that cannot be used (damaged, or from another version)."""


def placeholder(number: int, kind: str) -> str:
    return f"[REDACTED-{number}:{kind}]"


class Redactor:
    """Stable placeholders for the secrets of one analysis or conversation (see the module)."""

    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)
        self._numbers: dict[str, tuple[int, str]] = {}  # digest -> (number, kind)
        self._replay: dict[str, str] = {}  # plain value -> placeholder: this object only, never stored
        self._replaced = 0
        self._lock = threading.Lock()

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Redactor:
        """A Redactor that gives the same placeholders as the one whose `to_state()` this is."""
        if not isinstance(state, Mapping) or state.get("version") != STATE_VERSION:
            raise RedactionStateError(f"not a redaction state of version {STATE_VERSION}")
        key, entries, replaced = state.get("key"), state.get("secrets"), state.get("replaced")
        if not isinstance(key, str) or not _DIGEST.fullmatch(key):
            raise RedactionStateError("the state's key is not 64 hex digits")
        if not isinstance(entries, list) or not isinstance(replaced, int) or replaced < 0:
            raise RedactionStateError("the state's secrets or replaced count are missing")
        redactor = cls()
        redactor._key = bytes.fromhex(key)
        redactor._replaced = replaced
        for entry in entries:
            if not (
                isinstance(entry, list)
                and len(entry) == 3
                and isinstance(entry[0], str)
                and _DIGEST.fullmatch(entry[0])
                and isinstance(entry[2], str)
                and _KIND.fullmatch(entry[2])
                and entry[1] == len(redactor._numbers) + 1
            ):
                raise RedactionStateError("a secret of the state is not [digest, next number, kind]")
            redactor._numbers[entry[0]] = (entry[1], entry[2])
        return redactor

    def to_state(self) -> dict[str, Any]:
        """JSON-serialisable, without secret text (see the module)."""
        with self._lock:
            entries = sorted(self._numbers.items(), key=lambda item: item[1][0])
            return {
                "version": STATE_VERSION,
                "key": self._key.hex(),
                "secrets": [[digest, number, kind] for digest, (number, kind) in entries],
                "replaced": self._replaced,
            }

    @property
    def counts(self) -> dict[str, int]:
        """Distinct secrets by kind."""
        with self._lock:
            return dict(sorted(Counter(kind for _, kind in self._numbers.values()).items()))

    @property
    def total(self) -> int:
        """Distinct secrets."""
        return len(self._numbers)

    @property
    def replaced(self) -> int:
        """Occurrences replaced so far, by every call (and before from_state)."""
        return self._replaced

    def redact(self, text: str) -> str:
        """text with each secret replaced by its placeholder."""
        if not isinstance(text, str):
            raise TypeError(f"redact takes a str, not {type(text).__name__}")
        return _apply(text, self._spans(text, find_secrets(text)), 0, len(text))

    def redact_data(self, data: Any) -> Any:
        """A copy of JSON-like data (dicts, lists, tuples, str, numbers, bools, None), same shape, with
        every string (keys too) redacted, and the whole value of a key that names a secret
        ({"password": ...}, {"access_token": ...}) replaced. Other types raise TypeError."""
        texts: list[str] = []
        skeleton = self._collect(data, texts, 0)
        joined = "\n".join(texts)  # one scan for all the strings (a scan of each costs ~50 us)
        spans = self._spans(joined, _findings_by_string(joined, texts))
        redacted: list[str] = []
        offset, first = 0, 0
        for text in texts:
            end = offset + len(text)
            while first < len(spans) and spans[first][1] <= offset:
                first += 1
            redacted.append(_apply(joined, spans, offset, end, first))
            offset = end + 1
        return _fill(skeleton, redacted)

    def redact_messages(self, messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Chat messages ({"role", "content"}: a str, a list of parts, or None) redacted, as new dicts;
        every string in them is redacted (tool call arguments too)."""
        if isinstance(messages, (str, bytes)) or not isinstance(messages, Sequence):
            raise TypeError("messages must be a list of {role, content} dicts")
        for message in messages:
            if not isinstance(message, Mapping) or not isinstance(message.get("role"), str):
                raise TypeError("each message must be a dict with a str role")
        result: list[dict[str, Any]] = self.redact_data([dict(message) for message in messages])
        return result

    def _placeholder(self, secret: str, kind: str, *, replay: bool) -> str:
        """The secret's placeholder, numbered on first sight. The caller holds the lock."""
        digest = hmac.new(self._key, secret.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
        if digest not in self._numbers:
            self._numbers[digest] = (len(self._numbers) + 1, kind)
        number, first_kind = self._numbers[digest]
        text = placeholder(number, first_kind)
        if (
            replay
            and len(self._replay) < _REPLAY_MAX
            and len(secret) >= _REPLAY_MIN_LENGTH
            and not secret.isalpha()
            and "\n" not in secret
        ):
            self._replay[secret] = text
        return text

    def _spans(self, text: str, findings: list[Finding]) -> list[tuple[int, int, str]]:
        """(start, end, placeholder) of each secret found in text and of each other occurrence of a
        value known by its surroundings; sorted, none overlapping."""
        with self._lock:
            spans = [
                (f.start, f.end, self._placeholder(text[f.start : f.end], f.kind, replay=f.rank == CONTEXT))
                for f in findings
            ]
            replay = list(self._replay.items())
        spans = _with_replays(text, spans, replay)
        with self._lock:
            self._replaced += len(spans)
        return spans

    def _collect(self, data: Any, texts: list[str], depth: int) -> Any:
        """data with each string replaced by its index in texts, and the values of keys that name a
        secret by their placeholder."""
        if depth > MAX_DEPTH:
            raise ValueError(f"data nested deeper than {MAX_DEPTH} levels")
        if isinstance(data, str):
            texts.append(data)
            return _Slot(len(texts) - 1)
        if data is None or isinstance(data, (bool, int, float)):
            return data
        if isinstance(data, (list, tuple)):
            items = [self._collect(item, texts, depth + 1) for item in data]
            return items if isinstance(data, list) else tuple(items)
        if isinstance(data, Mapping):
            pairs = []
            for key, value in data.items():
                if isinstance(key, str) and isinstance(value, str) and (kind := named_secret_kind(key, value)):
                    # A value that also names itself ({"private_key": "-----BEGIN...") keeps that kind.
                    kind = next((f.kind for f in find_secrets(value) if f.rank == SPECIFIC), kind)
                    with self._lock:
                        self._replaced += 1
                        value = self._placeholder(value, kind, replay=True)
                    pairs.append((self._collect(key, texts, depth + 1), value))
                else:
                    pairs.append((self._collect(key, texts, depth + 1), self._collect(value, texts, depth + 1)))
            return _Pairs(pairs)
        raise TypeError(f"cannot redact a {type(data).__name__}: only JSON-like data")


class _Slot:
    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index


class _Pairs(list[tuple[Any, Any]]):
    """A dict's items whose keys are not redacted yet."""


def _fill(skeleton: Any, texts: list[str]) -> Any:
    if isinstance(skeleton, _Slot):
        return texts[skeleton.index]
    if isinstance(skeleton, _Pairs):
        result: dict[Any, Any] = {}
        for key, value in skeleton:
            key = _fill(key, texts)
            if key in result:  # only an input that already holds one of these placeholders as a key
                raise ValueError("two keys of one object redact to the same text")
            result[key] = _fill(value, texts)
        return result
    if isinstance(skeleton, list):
        return [_fill(item, texts) for item in skeleton]
    if isinstance(skeleton, tuple):
        return tuple(_fill(item, texts) for item in skeleton)
    return skeleton


def _findings_by_string(joined: str, texts: list[str]) -> list[Finding]:
    """find_secrets over the strings joined by line breaks. Only a private key block can run over
    a line break (to an END marker, or over a cut-off key's body): the strings such a finding
    touches are scanned again one by one, so it cannot take its neighbours with it."""
    findings = find_secrets(joined)
    starts, offset = [], 0
    for text in texts:
        starts.append(offset)
        offset += len(text) + 1
    crossing: set[int] = set()
    for finding in findings:
        first, last = bisect_right(starts, finding.start) - 1, bisect_right(starts, finding.end - 1) - 1
        if first != last:
            crossing.update(range(first, last + 1))
    if not crossing:
        return findings
    kept = [f for f in findings if bisect_right(starts, f.start) - 1 not in crossing]
    for i in crossing:
        kept += [f._replace(start=f.start + starts[i], end=f.end + starts[i]) for f in find_secrets(texts[i])]
    return sorted(kept)


def _with_replays(
    text: str, spans: list[tuple[int, int, str]], replay: list[tuple[str, str]]
) -> list[tuple[int, int, str]]:
    """spans, plus the other places where a value known by its surroundings occurs."""
    extra = []
    for secret, text_placeholder in replay:
        pos = text.find(secret)
        while pos >= 0:
            extra.append((pos, pos + len(secret), text_placeholder))
            pos = text.find(secret, pos + len(secret))
    if not extra:
        return spans
    merged: list[tuple[int, int, str]] = []
    # At equal starts a detected span comes first; an overlap becomes one span under the first's
    # placeholder, so no part of either value is left.
    ordered = sorted([(*span, 0) for span in spans] + [(*span, 1) for span in extra], key=lambda s: (s[0], s[3]))
    for start, end, text_placeholder, _ in ordered:
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end), merged[-1][2])
        else:
            merged.append((start, end, text_placeholder))
    return merged


def _apply(text: str, spans: list[tuple[int, int, str]], start: int, end: int, first: int = 0) -> str:
    """text[start:end] with the spans in it (clipped to it, from spans[first]) replaced."""
    parts, pos = [], start
    for i in range(first, len(spans)):
        span_start, span_end, text_placeholder = spans[i]
        if span_start >= end:
            break
        if span_end <= start:
            continue
        parts.append(text[pos : max(pos, span_start)])
        parts.append(text_placeholder)
        pos = max(pos, min(span_end, end))
    parts.append(text[pos:end])
    return "".join(parts)
