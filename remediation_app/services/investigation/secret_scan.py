"""Where the secrets are in a text: detect-secrets' detectors, and the few kinds the issue names that it misses.

detect-secrets' own entry points are not used: `scan_line` changes the process-wide settings and clears
their caches on every call (not thread-safe, and ~1.5 ms a line), `transient_settings` swaps the global
settings, and a plugin's `analyze_line` verifies a candidate over the network when a verification
filter is configured. So this module takes what those entry points run, the default plugin set's
compiled patterns (`denylist`), the keyword plugin's patterns, the base64 entropy plugin's pattern
and entropy, detect-secrets' heuristic filters, and runs them itself. Nothing here changes shared
state, reads a file, runs git, touches the network or logs.

Speed (a megabyte of logs or JSON in ~0.5 s, ~1 s when every line holds a keyword): most patterns
start with a literal and run once over the whole text. The keyword-style ones are slow (up to 3 us a
character), so they run only on the blocks of lines holding a trigger word (`_TRIGGER`), in their
case-sensitive form over the lowercased text (12x faster than IGNORECASE); the IBM/SoftLayer/Cloudant
`<vendor>_key = <value>` patterns run only just before the long runs of characters their values are.
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from collections.abc import Iterator
from functools import lru_cache
from typing import NamedTuple, cast

from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
from detect_secrets.filters.heuristic import (
    is_indirect_reference,
    is_likely_id_string,
    is_not_alphanumeric_string,
    is_potential_uuid,
    is_prefixed_with_dollar_sign,
    is_sequential_string,
    is_templated_secret,
)
from detect_secrets.plugins import keyword
from detect_secrets.plugins.base import BasePlugin, RegexBasedDetector
from detect_secrets.plugins.high_entropy_strings import Base64HighEntropyString

# Importing detect-secrets turns on logging.captureWarnings (its log module does it for its CLI); the
# app never asked for Python warnings to become log records, so that is undone.
logging.captureWarnings(False)

# SPECIFIC: a format that names itself (AKIA..., ghp_..., a JWT), found wherever it is. CONTEXT: a
# value known as a secret by what surrounds it (password=, Bearer, a URL's user:password@); the same
# value elsewhere is only found if the caller looks for it again. ENTROPY: a random-looking quoted
# string. Overlapping findings take the kind of the lowest rank.
SPECIFIC, CONTEXT, ENTROPY = 0, 1, 2


class Finding(NamedTuple):
    start: int
    end: int
    kind: str
    rank: int


# Left out of the default set: a public IP address is no credential, and alerts need their instance
# addresses; hex strings in ops text are git SHAs, container and trace ids (a hex secret after
# key=/token=/password= is still found by the keyword patterns).
EXCLUDED = {"IPPublicDetector", "HexHighEntropyString"}
_KINDS = {
    "AWS Access Key": "aws-key",
    "Azure Storage Account access key": "azure-storage-key",
    "Basic Auth Credentials": "url-password",
    "JSON Web Token": "jwt",
    "Stripe Access Key": "stripe-key",
}


def _kind(secret_type: str) -> str:
    return _KINDS.get(secret_type) or re.sub(r"[^a-z0-9]+", "-", secret_type.lower()).strip("-")


_ENTROPY = Base64HighEntropyString()
_KEYWORD_PLUGIN = keyword.KeywordDetector()
# build_assignment_regex patterns (`<prefix>key = <value>`) start with this lookbehind.
_ASSIGNMENT_START = r"(?:(?<=\W)|(?<=^))"
_WHOLE: list[tuple[re.Pattern[str], str]] = []  # run once over the whole text
_ASSIGNMENT: list[tuple[re.Pattern[str], str]] = []  # run just before long runs, on trigger lines
UNHANDLED: list[str] = []  # plugins of a newer detect-secrets that nothing here runs (a test checks)
_PLUGINS = cast("dict[str, type[BasePlugin]]", get_mapping_from_secret_type_to_class())  # the default set
for _secret_type, _cls in sorted(_PLUGINS.items()):
    if _cls.__name__ in EXCLUDED or _cls in (keyword.KeywordDetector, Base64HighEntropyString):
        continue
    if not issubclass(_cls, RegexBasedDetector):
        UNHANDLED.append(_cls.__name__)
        continue
    for _rx in cast("list[re.Pattern[str]]", _cls.denylist):  # a class attribute in every plugin
        # MULTILINE: over a whole text, ^ and $ must still mean the ends of a line.
        _compiled = re.compile(_rx.pattern, _rx.flags | re.MULTILINE)
        _target = _ASSIGNMENT if _rx.pattern.startswith(_ASSIGNMENT_START) else _WHOLE
        _target.append((_compiled, _kind(_secret_type)))
# PKCS#8 encrypted keys are missing from the private key plugin's list of BEGIN lines.
_WHOLE.append((re.compile("BEGIN ENCRYPTED PRIVATE KEY"), "private-key"))
# Their values are runs of at least 24 of these characters (Cloudant's API key is the shortest), so
# a match starts at most _ASSIGNMENT_REACH characters before such a run (prefix, keyword, quotes, =).
_LONG_RUN = re.compile(r"[A-Za-z0-9_-]{24,}")
_ASSIGNMENT_REACH = 96


def _line_safe(pattern: str) -> str:
    """A keyword pattern that cannot run past the end of a line, so it can scan a block of lines."""
    safe = pattern.replace(r"\s*", r"[^\S\n]*").replace(r"[^\v", r"[^\v\n")
    if r"\s" in safe.replace(r"[^\s]", ""):
        raise RuntimeError("detect-secrets' keyword patterns changed: review secret_scan._line_safe")
    return safe


# The keyword plugin's forms for config files (YAML, env, logfmt, JSON: what evidence is) and the one
# extra form of its quoted set (`=>`); the others are those forms again or C/Go source syntax.
# (pattern on the lowercased text, value group, kind)
_KEYWORD: list[tuple[re.Pattern[str], int, str]] = [
    (re.compile(_line_safe(rx.pattern), rx.flags & ~re.IGNORECASE), group, "secret")
    for rx, group in [
        *keyword.CONFIG_DENYLIST_REGEX_TO_GROUP.items(),
        (keyword.FOLLOWED_BY_ARROW_FUNCTION_SIGN_QUOTES_REQUIRED_REGEX, 4),
    ]
]
# Missed by detect-secrets 1.5 and named by the issue: a credential under a key ending in "token" or
# "api-key" (X-Auth-Token, access_token, X-API-Key); its keyword list has api_key but no token.
_KEYWORD.append(
    (re.compile(r"(?<![\w-])[\w-]*?(?:token|api-key)[\"']?[ \t]*[:=][ \t]*([\"']?)([^\s\"'`,;&]{8,})"), 2, "token")
)
# A line can match a keyword or assignment pattern only if it holds one of these words (lowercased):
# every keyword of those patterns contains one (a test checks).
_TRIGGER = re.compile("key|pass|pw|secret|contrase|token")

# Missed by detect-secrets 1.5, named by the issue. (pattern, kind, rank, runs on the lowercased text)
_CUSTOM: list[tuple[re.Pattern[str], str, int, bool]] = [
    # An Authorization header's credentials (Basic, Token, ...; Bearer is the next pattern's): no
    # plugin reads headers.
    (
        re.compile(
            r"authorization[\"']?[ \t]*[:=][ \t]*[\"']?(?!bearer[ \t])(?:[a-z][\w-]*[ \t]+)?(?P<s>[a-z0-9._~+/-]{8,}=*)"
        ),
        "authorization",
        CONTEXT,
        True,
    ),
    # A bearer token, in a header or not (curl lines, log messages): long enough not to be a word.
    (re.compile(r"bearer[ \t]+(?P<s>[a-z0-9._~+/-]{16,}=*)"), "bearer-token", CONTEXT, True),
    # A URL's password: the BasicAuth plugin needs a user name and refuses sub-delimiters, so
    # redis://:pw@host and postgres://u:pa$$w0rd@host would pass.
    (re.compile(r"://[^\s/:@]*:(?P<s>[^\s/@]+)@"), "url-password", CONTEXT, False),
    # A secret in a query string (?password=, &token=, &X-Amz-Signature=, Azure SAS &sig=, ?key=).
    (
        re.compile(
            r"[?&;](?:[\w.-]*?(?:password|passwd|pwd|secret|token|api[_-]?key|signature|sig|credential)|key)"
            r"=(?P<s>[^&#\s\"'<>]+)"
        ),
        "url-secret",
        CONTEXT,
        True,
    ),
    # Azure Service Bus / Event Hubs connection strings (only the storage AccountKey has a plugin).
    (re.compile(r"SharedAccess(?:Key|Signature)=(?P<s>[^;\"'\s]+)"), "azure-key", CONTEXT, False),
    # Google Cloud API keys and OAuth access tokens: there is no GCP plugin.
    (re.compile(r"(?P<s>AIza[0-9A-Za-z_-]{35})"), "gcp-api-key", SPECIFIC, False),
    (re.compile(r"(?P<s>ya29\.[0-9A-Za-z_-]{20,})"), "gcp-access-token", SPECIFIC, False),
    # GitHub fine-grained tokens: the GitHub plugin knows only the ghp_/gho_/ghu_/ghs_/ghr_ forms.
    (re.compile(r"(?P<s>github_pat_[0-9A-Za-z_]{22,})"), "github-token", SPECIFIC, False),
]

_NOT_WORDS = {"authorization", "bearer-token"}
# The private key plugin finds the BEGIN marker; the whole block must go, up to its END marker
# (real newlines or JSON-escaped ones, as in a GCP service account's private_key), or, when the
# text was cut before it, over the key's body.
_PEM_END = re.compile(r"-{4,5} ?END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)? ?-{4,5}|Private-MAC: *[0-9a-fA-F]+")
_PEM_BODY = re.compile(r"[A-Za-z0-9+/=\\\s-]*")
_PEM_MAX = 64 * 1024
_TOKEN_TAIL = re.compile(r"[A-Za-z0-9_+/=-]+")
_VALUE_BREAK = re.compile(r"[\s&;,]")
_UNQUOTED_REST = re.compile(r"[^\n'\"]*")
_KEYWORD_WINDOW = 4096
_KEYWORD_OVERLAP = 256  # longer than a keyword, its suffix and the = with its spaces
_NEXT_PAIR = re.compile(r"\s*[\w.-]+[=:]")
_DELIMITERS = " \t\r\n\"'=:,;`"
_LABEL = re.compile(r"AccountKey=")  # the Azure storage pattern's match starts with its key's name
# detect-secrets' id filter looks for `_id` anywhere before the value on its line; in a log line that
# holds trace_id=... every later value would pass for an id. Here it looks at the value's own key, or
# for a quoted random string, at the few characters before it (`"request_id": "...`).
_ID_CONTEXT = 40


def find_secrets(text: str) -> list[Finding]:
    """The secrets in text, sorted and merged: no two findings overlap."""
    lowered = _lower_aligned(text)
    found: list[Finding] = []
    for pattern, kind in _WHOLE:
        for m in pattern.finditer(text):
            found.extend(_plugin_findings(text, m, kind))
    for pattern, kind, rank, on_lowered in _CUSTOM:
        for m in pattern.finditer(lowered if on_lowered else text):
            value = text[m.start("s") : m.end("s")]
            # "Authorization: required", "the bearer of ...": a lowercase word is prose, not a credential.
            if _plausible(value) and not (kind in _NOT_WORDS and value.isalpha() and value.islower()):
                found.append(Finding(m.start("s"), m.end("s"), kind, rank))
    for start, end in _trigger_blocks(lowered):
        found.extend(_keyword_findings(text, lowered, start, end))
        found.extend(_assignment_findings(text, lowered, start, end))
    found.extend(_entropy_findings(text))
    return _merge(found)


def named_secret_kind(key: str, value: str) -> str | None:
    """The kind of secret a value is because of its key ({"password": "x"}), or None.

    The pair is written as one JSON line and given to the keyword patterns and their filters, so a
    key counts exactly when the same pair in a text would.
    """
    key = key[:256]
    return _probe(key, value) if _key_may_name_secret(key) else None


@lru_cache(maxsize=4096)
def _key_may_name_secret(key: str) -> bool:
    # Data repeats its keys (every series has "instance"); a key refused with a plausible value is
    # refused with any, so the verdict on the key is kept.
    return bool(_TRIGGER.search(key.lower())) and _probe(key, "Xq7Zw2Vu9Ts4") is not None


def _probe(key: str, value: str) -> str | None:
    probe_value = re.sub(r"[\"'`\s]", "_", value[:256])  # any stand-in: only the verdict is used
    prefix = '"' + re.sub(r"[\"\s]", "_", key) + '": "'
    line = prefix + probe_value + '"'
    for finding in _keyword_findings(line, _lower_aligned(line), 0, len(line)):
        if finding.start == len(prefix):  # the key's value, not a `token: x` inside the value
            return finding.kind
    return None


def _lower_aligned(text: str) -> str:
    lowered = text.lower()
    if len(lowered) != len(text):  # a few characters lowercase to two ("İ"): keep positions aligned
        lowered = "".join(c if len(c.lower()) != 1 else c.lower() for c in text)
    return lowered


def _plugin_findings(text: str, m: re.Match[str], kind: str) -> Iterator[Finding]:
    if kind == "private-key":
        yield _private_key_block(text, m.start(), m.end())
        return
    spans = [m.span(i) for i in range(1, (m.re.groups or 0) + 1) if m.group(i)]
    if not spans:  # no group: the whole match, less the delimiters and label some patterns include
        start, end = m.span()
        while start < end and text[start] in _DELIMITERS:
            start += 1
        label = _LABEL.match(text, start, end)
        start = label.end() if label else start
        while end > start and text[end - 1] in _DELIMITERS:
            end -= 1
        spans = [(start, end)]
    for start, end in spans:
        if end < m.end() and (text[end] in "_-" or text[end].isalnum()):
            # The group is a prefix (GitHub's ghp) or a sub-part (GitLab's glcbt-ab_): the token runs on.
            end = m.end()
        if end > start and (text[end - 1].isalnum() or text[end - 1] == "."):
            # The pattern may stop inside the token (the JWT pattern's lazy signature): take it all.
            tail = _TOKEN_TAIL.match(text, end)
            end = tail.end() if tail else end
        if end > start and _plausible(text[start:end]):
            # A group after the start of the match was picked by its surroundings (`aws_key = "..."`).
            yield Finding(start, end, kind, CONTEXT if m.re.groups and start > m.start() else SPECIFIC)


def _private_key_block(text: str, start: int, end: int) -> Finding:
    while start > 0 and text[start - 1] in "- " and end - start < 64:
        start -= 1
    closing = _PEM_END.search(text, end, min(len(text), end + _PEM_MAX))
    if closing:
        end = closing.end()
    else:
        body = _PEM_BODY.match(text, end, min(len(text), end + _PEM_MAX))
        end = body.end() if body else end
    return Finding(start, end, "private-key", SPECIFIC)


def _trigger_blocks(lowered: str) -> Iterator[tuple[int, int]]:
    """The blocks of consecutive lines that hold a trigger word."""
    block: tuple[int, int] | None = None
    pos = 0
    while m := _TRIGGER.search(lowered, pos):
        start = lowered.rfind("\n", 0, m.start()) + 1
        end = lowered.find("\n", m.end())
        end = len(lowered) if end < 0 else end
        if block and start == block[1] + 1:
            block = (block[0], end)
        else:
            if block:
                yield block
            block = (start, end)
        pos = end + 1
    if block:
        yield block


def _keyword_findings(text: str, lowered: str, start: int, end: int) -> Iterator[Finding]:
    """The keyword forms over text[start:end], a window at a time.

    An unquoted value matches to the end of its line; it is cut before a next key=value pair and the
    scan resumes there (`user=a password=x api_key=y` holds two). A window keeps that linear on a line
    of many pairs; the cost is that a quoted value longer than a window is not seen by these forms.
    """
    seen: set[int] = set()  # several forms find the same value
    for pattern, group, kind in _KEYWORD:
        pos = start
        while pos < end:
            stop = min(end, pos + _KEYWORD_WINDOW)
            m = pattern.search(lowered, pos, stop)
            if not m:
                pos = end if stop == end else stop - _KEYWORD_OVERLAP
                continue
            value_start, value_end = m.span(group)
            if value_start == 0 or text[value_start - 1] not in "\"'`":
                value_end = _unquoted_end(text, value_start, value_end, end, truncated=value_end == stop < end)
            pos = max(value_end, m.start() + 1)
            if value_start in seen:
                continue
            seen.add(value_start)
            value = text[value_start:value_end]
            if (
                _plausible(value)
                and not is_likely_id_string(value, text[m.start() : value_end], _KEYWORD_PLUGIN)
                and not _indirect(text[m.start() : value_end])
            ):
                yield Finding(value_start, value_end, kind, CONTEXT)


def _unquoted_end(text: str, value_start: int, value_end: int, end: int, *, truncated: bool) -> int:
    """Where an unquoted value ends: before the next key=value pair on its line, or at its end."""
    cut = _next_pair(text[value_start:value_end])
    if cut is None and truncated:  # the window cut it: the rest of the line, up to a quote
        value_end = _UNQUOTED_REST.match(text, value_end, end).end()  # type: ignore[union-attr]
        cut = _next_pair(text[value_start:value_end])
    value = text[value_start:value_end] if cut is None else text[value_start : value_start + cut]
    return value_start + len(value.rstrip())


def _indirect(assignment: str) -> bool:
    # is_indirect_reference (`secret = get_secret()`, `= request.headers['apikey']`) backtracks
    # heavily; without a bracket it cannot match, so most values skip it.
    return ("(" in assignment or "[" in assignment) and is_indirect_reference(assignment)


def _next_pair(value: str) -> int | None:
    gap = _VALUE_BREAK.search(value)
    return gap.start() if gap and _NEXT_PAIR.match(value, gap.end()) else None


def _assignment_findings(text: str, lowered: str, start: int, end: int) -> Iterator[Finding]:
    for run in _LONG_RUN.finditer(text, start, end):
        if not _TRIGGER.search(lowered, max(start, run.start() - _ASSIGNMENT_REACH), run.start()):
            continue  # no keyword close enough before this run
        # The patterns cannot cross a line (no \s, no dot), so the window may start on the line before.
        window_start = max(start, run.start() - _ASSIGNMENT_REACH)
        window_end = min(end, run.start() + 70)  # the longest value (64) and its closing quote
        for pattern, kind in _ASSIGNMENT:
            for m in pattern.finditer(text, window_start, window_end):
                yield from _plugin_findings(text, m, kind)


def _entropy_findings(text: str) -> Iterator[Finding]:
    limit = _ENTROPY.entropy_limit
    for m in _ENTROPY.regex.finditer(text):
        value = m.group(2)
        # Shannon entropy never exceeds log2(length): shorter strings cannot pass, skip the count.
        if math.log2(len(value)) <= limit or _entropy(value) <= limit:
            continue
        line = text[_line_start(text, m.start()) : m.end()]  # its key and the value
        if _plausible(value) and not is_potential_uuid(value) and not is_likely_id_string(value, line, _ENTROPY):
            yield Finding(m.start(2), m.end(2), "high-entropy", ENTROPY)


def _entropy(value: str) -> float:
    """Base64HighEntropyString.calculate_shannon_entropy for a value of its charset (a test checks they
    agree), counting the characters present instead of all 66 of the charset: 5x faster."""
    size = len(value)
    return -sum(n / size * math.log2(n / size) for n in Counter(value).values())


def _line_start(text: str, pos: int) -> int:
    """Where pos's line starts, looking back at most _ID_CONTEXT characters (lines can be huge)."""
    lowest = max(0, pos - _ID_CONTEXT)
    return max(text.rfind("\n", lowest, pos) + 1, lowest)


def _plausible(value: str) -> bool:
    """detect-secrets' filters for a candidate value, except is_potential_uuid: a UUID given as a
    password or API key (Heroku, Datadog style) is a credential; that filter is for entropy noise."""
    return not (
        is_templated_secret(value)
        or is_prefixed_with_dollar_sign(value)
        or is_not_alphanumeric_string(value)
        or is_sequential_string(value)
    )


def _merge(found: list[Finding]) -> list[Finding]:
    merged: list[Finding] = []
    for finding in sorted(found):
        if merged and finding.start < merged[-1].end:
            last = merged[-1]
            best = min(last, finding, key=lambda f: (f.rank, f.start - f.end))
            merged[-1] = Finding(last.start, max(last.end, finding.end), best.kind, best.rank)
        else:
            merged.append(finding)
    return merged
