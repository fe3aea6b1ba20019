"""The rules engine: which action an alert gets, and why.

A pattern is a wildcard (`*` any run, `?` one character) unless it starts with `re:`, in which case
the rest is a regular expression. Both are anchored (the whole value must match) and
case-insensitive. An empty pattern matches anything, including a missing label; a missing label
is matched as the empty string. Rules are tried by priority (lower first, then id); the first
enabled match wins; no match means `manual`.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import regex
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
# Patterns run on the `regex` engine (re's syntax) with a time limit per match: a backtracking engine
# is exponential on some patterns, and label values come from outside. A match that runs out of time
# counts as "no match" (and is logged); regular expressions also see at most REGEX_VALUE_MAX
# characters of a value.
MATCH_TIMEOUT_S = 0.05
REGEX_VALUE_MAX = 4096
# A group with a quantifier inside, itself quantified: (a+)+, (x*)*, (\w+\s?)+ ... the classic
# catastrophic-backtracking shape. Refused when a rule is saved.
_NESTED_QUANTIFIER = re.compile(r"\((?:[^()\\]|\\.)*(?:[+*]|\{\d*,\d*\})(?:[^()\\]|\\.)*\)(?:[+*]|\{\d*,\d*\})")


class RuleValidationError(ValueError):
    """A rule that cannot be saved; `field` names what is wrong."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


def compile_pattern(pattern: str, *, field_name: str = "pattern") -> Any:
    """Compile a pattern (a `regex` pattern object); None means "matches anything". Raises
    RuleValidationError."""
    if len(pattern) > MAX_PATTERN:
        raise RuleValidationError(field_name, f"pattern is longer than {MAX_PATTERN} characters")
    if pattern.startswith(REGEX_PREFIX):
        body = pattern[len(REGEX_PREFIX) :]
        try:
            re.compile(body)  # the syntax users are told about (Python's re) is the one accepted
            return regex.compile(body, regex.IGNORECASE | regex.VERSION0)
        except (re.error, regex.error) as exc:
            raise RuleValidationError(field_name, f"invalid regular expression {body!r}: {exc}") from exc
    if pattern in ("", "*"):
        return None
    parts = ("." if ch == "?" else ".*" if ch == "*" else re.escape(ch) for ch in pattern)
    return regex.compile("".join(parts), regex.IGNORECASE | regex.DOTALL | regex.VERSION0)


@dataclass(frozen=True)
class Matcher:
    label: str
    pattern: str
    regex: Any  # a compiled `regex` pattern, or None for "anything"
    # Only patterns that can backtrack badly pay for the time limit (it costs ~1.3 us a match).
    guarded: bool = True

    def test(self, labels: Mapping[str, str]) -> tuple[bool, str]:
        value = labels.get(self.label, "")
        if self.regex is None:
            return True, f"{self.label} {_show(value)} matches {self.pattern!r}"
        if self.pattern.startswith(REGEX_PREFIX) and len(value) > REGEX_VALUE_MAX:
            value = value[:REGEX_VALUE_MAX]
        try:
            timeout = MATCH_TIMEOUT_S if self.guarded else None
            ok = self.regex.fullmatch(value, timeout=timeout) is not None
        except TimeoutError:
            log.warning("rule pattern %r ran out of time on a %d-character value", self.pattern[:100], len(value))
            return False, f"{self.label} {_show(value)}: {self.pattern!r} took too long, counted as no match"
        verb = "matches" if ok else "does not match"
        return ok, f"{self.label} {_show(value)} {verb} {self.pattern!r}"


def needs_time_limit(pattern: str) -> bool:
    """A regular expression, or a wildcard with two or more `*` (polynomial backtracking); literals and
    single-`*` wildcards match in linear time."""
    return pattern.startswith(REGEX_PREFIX) or pattern.count("*") > 1


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
        regex = compile_pattern(pattern, field_name=attr)
        if regex is not None:
            matchers.append(Matcher(label, pattern, regex, needs_time_limit(pattern)))
    for label, pattern in sorted((rule.label_patterns or {}).items()):
        regex = compile_pattern(pattern, field_name=f"label_patterns.{label}")
        if regex is not None:
            matchers.append(Matcher(label, pattern, regex, needs_time_limit(pattern)))
    assert rule.id is not None
    return CompiledRule(rule.id, rule.name, rule.priority, rule.action, tuple(matchers))


class RuleSet:
    """Enabled rules compiled once and tried in order."""

    def __init__(self, rules: list[Rule]) -> None:
        ordered = sorted(rules, key=lambda r: (r.priority, r.id or 0))
        # Every rule in order, for explain(): compiled if enabled, else its (name, priority).
        self._ordered: list[CompiledRule | tuple[str, int]] = [
            compile_rule(r) if r.enabled else (r.name, r.priority) for r in ordered
        ]
        self.rules = [r for r in self._ordered if isinstance(r, CompiledRule)]
        self.disabled = [r for r in self._ordered if not isinstance(r, CompiledRule)]

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
            if not isinstance(rule, CompiledRule):
                trace.append(RuleTrace(rule[0], rule[1], False, False, ["disabled"]))
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
        if field_name != "description" and value.startswith(REGEX_PREFIX) and _NESTED_QUANTIFIER.search(value):
            raise RuleValidationError(
                field_name,
                "a repeated group that itself repeats, like (a+)+, can take exponential time on some label "
                "values; rewrite it without the nesting",
            )
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
