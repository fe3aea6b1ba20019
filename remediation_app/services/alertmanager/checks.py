"""What a silence may be before Alertmanager is asked (its matchers, comment and duration, each
refused with a message naming what is wrong), what covers an alert (Alertmanager's matching rules),
and `SilenceRefused`: a refusal with the HTTP status the API answers it with."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

from remediation_app.models import Alert
from remediation_app.services.alertmanager.client import AlertmanagerError
from remediation_app.services.rules.engine import CompiledPattern, RuleValidationError, compile_label_regex
from remediation_app.services.text import storable_text
from remediation_app.settings import get_settings

COMMENT_MAX = 2000
MATCHERS_MAX = 30
VALUE_MAX = 1024
# Classic Prometheus label names, which every Alertmanager accepts.
LABEL_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Matcher:
    name: str
    value: str
    is_regex: bool = False
    is_equal: bool = True

    def to_api(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "isRegex": self.is_regex, "isEqual": self.is_equal}

    @classmethod
    def from_api(cls, item: dict[str, Any]) -> Matcher:
        return cls(
            name=str(item.get("name", "")),
            value=str(item.get("value", "")),
            is_regex=item.get("isRegex") is True,
            is_equal=item.get("isEqual", True) is not False,
        )


class SilenceRefused(Exception):
    """A silence, ack or expiry that was not made; `status` is the HTTP status the API answers
    (400 bad input, 404 unknown alert or silence, 409 not possible now, 502 Alertmanager answered
    wrongly, 503 unreachable or database down, 504 timeout)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def matchers_for(alert: Alert) -> list[Matcher]:
    """The prefill: every label of the alert, by equality (but those whose names Alertmanager would
    refuse, from senders other than Prometheus, and those too long to send)."""
    return [
        Matcher(name=name, value=value)
        for name, value in sorted((alert.labels or {}).items())
        if LABEL_NAME_RE.match(name) and len(name) <= 255 and len(value) <= VALUE_MAX
    ]


def refused_by(exc: AlertmanagerError) -> SilenceRefused:
    """Alertmanager's failure as the API answers it, its message (naming the Alertmanager) kept."""
    if exc.kind == "timeout":
        status = 504
    elif exc.kind == "unreachable":
        status = 503
    elif exc.kind == "query" and exc.status in (400, 404, 422):
        status = 404 if exc.status == 404 else 400
    else:
        status = 502
    return SilenceRefused(str(exc), status)


def check_matchers(matchers: list[Matcher]) -> list[Matcher]:
    """The matchers as sent to Alertmanager (duplicates dropped), or SilenceRefused (400) saying
    which one is wrong and why."""
    if not matchers:
        raise SilenceRefused("matchers: at least one is needed")
    if len(matchers) > MATCHERS_MAX:
        raise SilenceRefused(f"matchers: at most {MATCHERS_MAX}")
    kept: list[Matcher] = []
    for position, matcher in enumerate(matchers, start=1):
        where = f"matcher {position}"
        if not LABEL_NAME_RE.match(matcher.name) or len(matcher.name) > 255:
            raise SilenceRefused(f"{where}: {matcher.name[:80]!r} is not a label name (letters, digits, '_')")
        if len(matcher.value) > VALUE_MAX:
            raise SilenceRefused(f"{where} ({matcher.name}): the value is longer than {VALUE_MAX} characters")
        if storable_text(matcher.value) != matcher.value:
            raise SilenceRefused(f"{where} ({matcher.name}): the value contains characters that cannot be stored")
        if matcher.is_regex:
            try:
                compile_label_regex(matcher.value, field_name=where)
            except RuleValidationError as exc:
                raise SilenceRefused(f"{where} ({matcher.name}): {exc.message}") from None
        if matcher not in kept:
            kept.append(matcher)
    if not any(m.is_equal and not m.is_regex and m.value for m in kept):
        raise SilenceRefused(
            "matchers: at least one must be an equality (name=value) with a non-empty value; "
            "otherwise the silence could cover every alert"
        )
    return kept


def check_comment(comment: str) -> str:
    text = comment.strip()
    if not text:
        raise SilenceRefused("comment: say why (it is shown in Alertmanager with the silence)")
    if len(text) > COMMENT_MAX:
        raise SilenceRefused(f"comment: at most {COMMENT_MAX} characters")
    if storable_text(text) != text or any(ord(c) < 0x20 and c not in "\n\t" for c in text):
        raise SilenceRefused("comment: control characters are not allowed")
    return text


def max_duration_minutes() -> int:
    return int(get_settings().silence_max_days * 24 * 60)


def check_duration(minutes: int) -> int:
    longest = max_duration_minutes()
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= longest:
        raise SilenceRefused(f"duration_minutes: a whole number from 1 to {longest} (SILENCE_MAX_DAYS)")
    return minutes


# ---- what covers an alert -------------------------------------------------------------------------


@functools.lru_cache(maxsize=1024)
def _regex(expression: str) -> CompiledPattern | None:
    try:
        return compile_label_regex(expression)
    except RuleValidationError:
        return None


def _matches(matcher: Matcher, labels: dict[str, str]) -> bool:
    value = labels.get(matcher.name, "")
    if matcher.is_regex:
        pattern = _regex(matcher.value)
        if pattern is None:
            return False  # a pattern we cannot read covers nothing we can show
        hit = pattern.matches(value)
    else:
        hit = value == matcher.value
    return hit == matcher.is_equal


def covers(matchers: list[Matcher], labels: dict[str, str]) -> bool:
    """Whether a silence with these matchers mutes an alert with these labels (Alertmanager's rule:
    every matcher matches; a missing label is the empty string)."""
    return bool(matchers) and all(_matches(m, labels) for m in matchers)
