"""The rules engine: which action an alert gets, and why.

A pattern is a wildcard (`*` any run, `?` one character) unless it starts with `re:`, in which case
the rest is a regular expression in RE2 syntax. Both are anchored (the whole value must match) and
case-insensitive. An empty pattern matches anything, including a missing label; a missing label
is matched as the empty string. Rules are tried by priority (lower first, then id); the first
enabled match wins; no match means `manual`.

Label values come from outside, so matching must never stall ingest: patterns run on RE2, an
automaton (time linear in the value, whatever the pattern; no backtracking), every pattern sees at
most the first MATCH_VALUE_MAX characters of a value, and a pattern whose automaton is larger than
MAX_PROGRAM_SIZE is refused when saved. RE2 has no lookaround and no backreferences: such a pattern
is refused when saved, and a rule stored with one earlier is skipped at ingest (logged, and shown as
"not usable" by the dry run).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import re2
from re2 import _re2  # the binding itself: one call per match (re2's Python match API costs ~8x more)
from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.models import Rule, RuleAction, RuleSetVersion, User, utcnow
from remediation_app.services import audit

log = logging.getLogger(__name__)
REGEX_PREFIX = "re:"
DEFAULT_ACTION = RuleAction.MANUAL
FIELD_LABELS = {
    "alertname_pattern": "alertname",
    "severity_pattern": "severity",
    "instance_pattern": "instance",
    "job_pattern": "job",
}
_LABEL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MAX_PATTERN = 1024
# What any pattern (wildcard or regular expression) sees of a label value: its first characters.
MATCH_VALUE_MAX = 4096
# RE2 instructions a compiled pattern may have: a match costs at most about this times the value's
# length, a few milliseconds at worst on MATCH_VALUE_MAX characters (a literal of 1024 Latin
# characters fits; `.*a.{250}` or `*` followed by 300 `?` does not).
MAX_PROGRAM_SIZE = 2000
# Memory each compiled pattern may use (its program and its DFA cache): RE2's default is 8 MiB, a lot
# for each of hundreds of patterns; patterns within MAX_PROGRAM_SIZE match as fast with 1 MiB.
PATTERN_MEMORY_BYTES = 1 << 20
_BOTH = _re2.RE2.Anchor.ANCHOR_BOTH
_NO_MATCH = (-1, -1)


class RuleValidationError(ValueError):
    """A rule that cannot be saved; `field` names what is wrong."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


def _options(*, dot_matches_newline: bool, case_sensitive: bool = False) -> Any:
    options = re2.Options()
    options.max_mem = PATTERN_MEMORY_BYTES
    options.case_sensitive = case_sensitive
    options.dot_nl = dot_matches_newline
    options.never_capture = True  # only "does it match" is asked
    options.log_errors = False  # a refused pattern is reported to whoever saved it, not to stderr
    return options


_REGEX_OPTIONS = _options(dot_matches_newline=False)  # like Python's re without DOTALL
_WILDCARD_OPTIONS = _options(dot_matches_newline=True)  # `*` and `?` match line breaks too
# A label matcher's regular expression as Alertmanager and Prometheus read it (Go's regexp: RE2).
_LABEL_REGEX_OPTIONS = _options(dot_matches_newline=False, case_sensitive=True)


class CompiledPattern:
    """A pattern compiled by RE2; `matches` is a full (anchored) match of the value's first
    MATCH_VALUE_MAX characters.

    A wildcard matches only values of at least as many characters as it has besides `*` (exactly as
    many without `*`): RE2's case folding maps one character to one. Checking that first spares the
    call into RE2 for most values (most rules are literals such as `Watchdog`)."""

    __slots__ = ("_exact", "_min_length", "_program")

    def __init__(self, program: Any, *, min_length: int = 0, exact: bool = False) -> None:
        self._program = program
        self._min_length = min_length
        self._exact = exact

    def matches(self, value: str) -> bool:
        value = value[:MATCH_VALUE_MAX]
        if len(value) < self._min_length or (self._exact and len(value) != self._min_length):
            return False
        # Lone surrogates (never from the webhook, which cleans text) become "?" rather than an error.
        data = value.encode("utf-8", "replace")
        return bool(self._program.Match(_BOTH, data, 0, len(data))[0] != _NO_MATCH)


def _re2_error(program: Any) -> str:
    message = program.error()
    return message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)


def _python_accepts(expression: str) -> bool:
    try:
        re.compile(expression)
    except (re.error, RecursionError, OverflowError):
        return False
    return True


def _compile(expression: str, options: Any, *, field_name: str, shown: str) -> Any:
    try:
        encoded = expression.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise RuleValidationError(field_name, f"{shown} is not valid Unicode text") from exc
    program = _re2.RE2(encoded, options)
    if not program.ok():
        why = _re2_error(program)
        if _python_accepts(expression):
            raise RuleValidationError(
                field_name,
                f"{shown} uses syntax that RE2 does not support ({why}): patterns use RE2 syntax, which has "
                "no lookahead or lookbehind, no backreferences, no atomic groups or possessive quantifiers",
            )
        raise RuleValidationError(field_name, f"invalid regular expression {shown}: {why}")
    size = int(program.ProgramSize())
    if size > MAX_PROGRAM_SIZE:
        raise RuleValidationError(
            field_name,
            f"{shown} is too complex: it compiles to {size} RE2 instructions, at most {MAX_PROGRAM_SIZE} "
            "are allowed (large counted repetitions such as .{500} or many `?` cost the most)",
        )
    return program


def _wildcard_expression(pattern: str) -> str:
    parts = re.split(r"([*?])", pattern)
    return "".join(".*" if p == "*" else "." if p == "?" else re2.escape(p) for p in parts if p)


def compile_pattern(pattern: str, *, field_name: str = "pattern") -> CompiledPattern | None:
    """Compile a pattern; None means "matches anything". Raises RuleValidationError."""
    if len(pattern) > MAX_PATTERN:
        raise RuleValidationError(field_name, f"pattern is longer than {MAX_PATTERN} characters")
    if pattern.startswith(REGEX_PREFIX):
        body = pattern[len(REGEX_PREFIX) :]
        return CompiledPattern(_compile(body, _REGEX_OPTIONS, field_name=field_name, shown=repr(body)))
    if pattern in ("", "*"):
        return None
    program = _compile(_wildcard_expression(pattern), _WILDCARD_OPTIONS, field_name=field_name, shown="the wildcard")
    stars = pattern.count("*")
    return CompiledPattern(program, min_length=len(pattern) - stars, exact=not stars)


def compile_label_regex(expression: str, *, field_name: str = "value") -> CompiledPattern:
    """A label matcher's regular expression (a silence's `=~`) as Alertmanager reads it: RE2 syntax,
    case-sensitive, anchored at both ends; refused when longer than MAX_PATTERN or more complex
    than a rule's pattern may be. Raises RuleValidationError."""
    if len(expression) > MAX_PATTERN:
        raise RuleValidationError(field_name, f"the regular expression is longer than {MAX_PATTERN} characters")
    return CompiledPattern(_compile(expression, _LABEL_REGEX_OPTIONS, field_name=field_name, shown=repr(expression)))


@dataclass(frozen=True)
class Matcher:
    label: str
    pattern: str
    compiled: CompiledPattern | None  # None for "anything"

    def test(self, labels: Mapping[str, str]) -> tuple[bool, str]:
        value = labels.get(self.label, "")
        ok = self.compiled is None or self.compiled.matches(value)
        verb = "matches" if ok else "does not match"
        return ok, f"{self.label} {_show(value)} {verb} {self.pattern!r}"


def _show(value: str) -> str:
    return repr(value if len(value) <= 80 else value[:77] + "...")


@dataclass(frozen=True)
class CompiledRule:
    id: int
    name: str
    priority: int
    action: str
    matchers: tuple[Matcher, ...]

    def evaluate(self, labels: Mapping[str, str]) -> tuple[bool, list[str]]:
        reasons: list[str] = []
        for matcher in self.matchers:
            ok, reason = matcher.test(labels)
            reasons.append(reason)
            if not ok:
                return False, reasons
        return True, reasons or ["no patterns: matches every alert"]


@dataclass(frozen=True)
class RuleTrace:
    rule: str
    priority: int
    enabled: bool
    matched: bool
    reasons: list[str]
    # False for an enabled rule whose stored patterns no longer compile (skipped at ingest).
    usable: bool = True


@dataclass(frozen=True)
class Decision:
    action: str
    rule_id: int | None
    rule_name: str
    reason: str
    trace: list[RuleTrace] = field(default_factory=list)


def compile_rule(rule: Rule) -> CompiledRule:
    matchers = []
    for attr, label in FIELD_LABELS.items():
        pattern = getattr(rule, attr) or ""
        matchers.append(Matcher(label, pattern, compile_pattern(pattern, field_name=attr)))
    for label, pattern in sorted((rule.label_patterns or {}).items()):
        matchers.append(Matcher(label, pattern, compile_pattern(pattern, field_name=f"label_patterns.{label}")))
    assert rule.id is not None
    useful = tuple(m for m in matchers if m.compiled is not None)
    return CompiledRule(rule.id, rule.name, rule.priority, rule.action, useful)


@dataclass(frozen=True)
class SkippedRule:
    """A rule in the order but never tried: disabled, or (enabled) with a pattern that does not compile."""

    name: str
    priority: int
    enabled: bool
    why: str

    def trace(self) -> RuleTrace:
        if not self.enabled:
            return RuleTrace(self.name, self.priority, False, False, ["disabled"])
        return RuleTrace(self.name, self.priority, True, False, [f"not usable, skipped: {self.why}"], usable=False)


def _compile_or_skip(rule: Rule) -> CompiledRule | SkippedRule:
    if not rule.enabled:
        return SkippedRule(rule.name, rule.priority, False, "disabled")
    try:
        return compile_rule(rule)
    except RuleValidationError as exc:
        # Stored before the engine refused it (e.g. a lookahead, from before RE2): skipped, never fatal.
        log.warning("rule %r (id %s) is skipped: %s", rule.name, rule.id, exc)
        return SkippedRule(rule.name, rule.priority, True, str(exc))


class RuleSet:
    """Enabled rules compiled once and tried in order; a rule that does not compile is skipped."""

    def __init__(self, rules: list[Rule]) -> None:
        ordered = sorted(rules, key=lambda r: (r.priority, r.id or 0))
        # Every rule in order, for explain(): compiled, or skipped (disabled or not usable).
        self._ordered = [_compile_or_skip(r) for r in ordered]
        self.rules = [r for r in self._ordered if isinstance(r, CompiledRule)]
        self.skipped = [r for r in self._ordered if isinstance(r, SkippedRule)]

    def decide(self, labels: Mapping[str, str]) -> Decision:
        for rule in self.rules:
            matched, reasons = rule.evaluate(labels)
            if matched:
                return Decision(rule.action, rule.id, rule.name, _why(rule, reasons))
        return Decision(DEFAULT_ACTION, None, "", "no enabled rule matched; default action manual")

    def explain(self, labels: Mapping[str, str]) -> Decision:
        """Like decide, with a trace of every rule up to the winner (the dry run)."""
        trace: list[RuleTrace] = []
        for rule in self._ordered:
            if isinstance(rule, SkippedRule):
                trace.append(rule.trace())
                continue
            matched, reasons = rule.evaluate(labels)
            trace.append(RuleTrace(rule.name, rule.priority, True, matched, reasons))
            if matched:
                return Decision(rule.action, rule.id, rule.name, _why(rule, reasons), trace)
        return Decision(DEFAULT_ACTION, None, "", "no enabled rule matched; default action manual", trace)


def _why(rule: CompiledRule, reasons: list[str]) -> str:
    return f"rule {rule.name!r} (priority {rule.priority}): " + "; ".join(reasons)


# Per database: (version, compiled rules, when the version was last read).
_cache: dict[str, tuple[int, RuleSet, float]] = {}
# How long a process trusts its compiled rules before reading the version row again: a change made
# by another process applies within this time; one made by this process applies at once.
VERSION_CHECK_S = 1.0


def _cache_key(session: AsyncSession) -> str:
    return str(session.get_bind().engine.url)


async def current_rule_set(session: AsyncSession) -> RuleSet:
    """The compiled rule set; recompiled only when the stored version moved (any process may edit)."""
    key = _cache_key(session)
    cached = _cache.get(key)
    now = time.monotonic()
    if cached is not None and now - cached[2] < VERSION_CHECK_S:
        return cached[1]
    version = (await session.exec(select(RuleSetVersion.version).where(RuleSetVersion.id == 1))).first() or 0
    if cached is None or cached[0] != version:
        rules = list((await session.exec(select(Rule))).all())
        cached = (version, RuleSet(rules), now)
    _cache[key] = (cached[0], cached[1], now)
    return cached[1]


async def explain(session: AsyncSession, labels: Mapping[str, str]) -> Decision:
    """Dry run: which rule wins for these labels, and why."""
    return (await current_rule_set(session)).explain(labels)


def validate_rule(rule: Rule) -> None:
    """Refuse a rule that could never work, naming the field."""
    if not rule.name or not rule.name.strip():
        raise RuleValidationError("name", "a rule needs a name")
    if len(rule.name) > 255:
        raise RuleValidationError("name", "longer than 255 characters")
    if rule.action not in {a.value for a in RuleAction}:
        allowed = ", ".join(a.value for a in RuleAction)
        raise RuleValidationError("action", f"{rule.action!r} is not one of {allowed}")
    for label in rule.label_patterns or {}:
        if not _LABEL_NAME.fullmatch(label):
            raise RuleValidationError(f"label_patterns.{label}", "not a valid Prometheus label name")
    texts = {
        "name": rule.name,
        "description": rule.description or "",
        **{attr: getattr(rule, attr) or "" for attr in FIELD_LABELS},
        **{f"label_patterns.{label}": value for label, value in (rule.label_patterns or {}).items()},
    }
    for field_name, value in texts.items():
        if not isinstance(value, str):
            raise RuleValidationError(field_name, "must be text")
        if "\x00" in value:  # PostgreSQL cannot store it
            raise RuleValidationError(field_name, "contains a NUL character")
    compile_rule(rule.model_copy(update={"id": rule.id or 0}))


async def bump_version(session: AsyncSession) -> None:
    """Increment in SQL, so that concurrent editors never write the same version."""
    bumped = await session.exec(
        update(RuleSetVersion).where(col(RuleSetVersion.id) == 1).values(version=col(RuleSetVersion.version) + 1)
    )
    if not bumped.rowcount:
        session.add(RuleSetVersion(id=1, version=1))
    _cache.pop(_cache_key(session), None)  # this process re-reads the version on its next use


_AUDITED_FIELDS = ("name", "description", "enabled", "priority", *FIELD_LABELS, "label_patterns", "action")


async def save_rule(session: AsyncSession, rule: Rule, *, actor: User | str | None = None, address: str = "") -> Rule:
    """Validate, store, audit and publish a rule change (the caller commits)."""
    validate_rule(rule)
    audit.record(
        session,
        action="rule.update" if rule.id else "rule.create",
        actor=actor,
        target=rule.name,
        address=address,
        details={name: getattr(rule, name) for name in _AUDITED_FIELDS},
    )
    now = utcnow()
    rule.created_at = rule.created_at or now
    rule.updated_at = now
    session.add(rule)
    await bump_version(session)
    await session.flush()
    return rule


async def delete_rule(
    session: AsyncSession, rule_id: int, *, actor: User | str | None = None, address: str = ""
) -> bool:
    rule = await session.get(Rule, rule_id)
    if rule is None:
        return False
    audit.record(session, action="rule.delete", actor=actor, target=rule.name, address=address)
    await session.delete(rule)
    await bump_version(session)
    return True


async def list_rules(session: AsyncSession) -> list[Rule]:
    return list((await session.exec(select(Rule).order_by(col(Rule.priority), col(Rule.id)))).all())
