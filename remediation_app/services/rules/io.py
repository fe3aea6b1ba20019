"""The rule set as YAML (no reflex import): export, validation, and import that replaces the whole
rule set in one transaction.

    version: 1
    rules:
      - name: disk-full
        description: Disks fill up slowly; a human decides.
        enabled: true
        priority: 50
        match: {alertname: "DiskFull*", severity: "", instance: "re:db-[0-9]+", job: ""}
        labels: {team: storage}
        action: manual

Only `yaml.safe_load` reads a document (no Python tags, no code); the document's size, the number
of rules and every field are bounded. Errors name the rule (its name and position) and the field.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import yaml
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.models import Rule, RuleAction, User, utcnow
from remediation_app.services import audit
from remediation_app.services.rules.admin import DEFAULT_PRIORITY, MAX_RULES, check_rule
from remediation_app.services.rules.engine import FIELD_LABELS, RuleValidationError, bump_version, list_rules

FORMAT_VERSION = 1
MAX_DOCUMENT_BYTES = 512 * 1024
MAX_ERRORS = 50
HEADER = "# Remediation Engine rules: tried by priority (lower first), the first enabled match wins.\n"
RULE_KEYS = ("name", "description", "enabled", "priority", "match", "labels", "action")
MATCH_KEYS = tuple(FIELD_LABELS.values())  # alertname, severity, instance, job
_ATTR_FOR_MATCH = {label: attr for attr, label in FIELD_LABELS.items()}
ACTIONS = ", ".join(a.value for a in RuleAction)


class _Dumper(yaml.SafeDumper):  # type: ignore[misc]  # PyYAML has no type stubs here
    """Block style, list items indented under their key, multi-line text as `|` blocks."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def rule_to_dict(rule: Rule) -> dict[str, Any]:
    return {
        "name": rule.name,
        "description": rule.description or "",
        "enabled": bool(rule.enabled),
        "priority": rule.priority,
        "match": {label: getattr(rule, attr) or "" for attr, label in FIELD_LABELS.items()},
        "labels": dict(sorted((rule.label_patterns or {}).items())),
        "action": rule.action,
    }


def dump_rules(rules: Iterable[Rule]) -> str:
    """The YAML document: rules in the order they are tried; every field, always in the same order."""
    # Evaluation order (priority, then creation): importing the document into an empty database
    # creates the rules in this order, so rules of equal priority keep which one wins.
    ordered = sorted(rules, key=lambda r: (r.priority, r.id or 0))
    document = {"version": FORMAT_VERSION, "rules": [rule_to_dict(r) for r in ordered]}
    body: str = yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120)
    return HEADER + body


async def export_rules(session: AsyncSession) -> str:
    return dump_rules(await list_rules(session))


@dataclass
class ParsedRules:
    rules: list[Rule] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


class _Refused(Exception):
    """One field of one rule is wrong (the message names both)."""


def _who(item: object, position: int) -> str:
    name = item.get("name") if isinstance(item, dict) else None
    if isinstance(name, str) and name.strip():
        shown = name if len(name) <= 80 else name[:77] + "..."
        return f'rule "{shown}" (#{position})'
    return f"rule #{position}"


def _field_error(who: str, name: str, message: str) -> str:
    return f'{who}: field "{name}": {message}'


def _yaml_field(engine_field: str) -> str:
    """The document's name for a field named by RuleValidationError."""
    if engine_field in FIELD_LABELS:
        return f"match.{FIELD_LABELS[engine_field]}"
    if engine_field.startswith("label_patterns"):
        return "labels" + engine_field[len("label_patterns") :]
    return engine_field


def _text_value(value: object, where: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _Refused(_quote(where) + f": must be text, not {_kind(value)} (quote it)")
    return value


def _quote(name: str) -> str:
    return f'field "{name}"'


def _kind(value: object) -> str:
    kinds = {bool: "true/false", int: "a number", float: "a number", list: "a list", dict: "a mapping"}
    return kinds.get(type(value), type(value).__name__)


def _patterns(value: object, where: str, allowed: tuple[str, ...] | None) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _Refused(_quote(where) + f": must be a mapping, not {_kind(value)}")
    patterns: dict[str, str] = {}
    for key, pattern in value.items():
        if not isinstance(key, str):
            raise _Refused(_quote(where) + f": {key!r} is not a label name")
        if allowed is not None and key not in allowed:
            raise _Refused(_quote(f"{where}.{key}") + f": unknown field (allowed: {', '.join(allowed)})")
        patterns[key] = _text_value(pattern, f"{where}.{key}")
    return patterns


def _rule_from(item: dict[Any, Any]) -> Rule:
    """A Rule from one mapping of the document; raises _Refused with the field's message."""
    for key in item:
        if key not in RULE_KEYS:
            raise _Refused(_quote(str(key)) + f": unknown field (allowed: {', '.join(RULE_KEYS)})")
    for required in ("name", "action"):
        if item.get(required) is None:
            raise _Refused(_quote(required) + ": required")
    enabled = item.get("enabled", True)
    if not isinstance(enabled, bool):
        raise _Refused(_quote("enabled") + ": must be true or false")
    priority = item.get("priority", DEFAULT_PRIORITY)
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise _Refused(_quote("priority") + f": must be a whole number, not {_kind(priority)}")
    action = item["action"]
    if not isinstance(action, str) or action not in {a.value for a in RuleAction}:
        raise _Refused(_quote("action") + f": must be one of {ACTIONS}")
    match = _patterns(item.get("match"), "match", MATCH_KEYS)
    rule = Rule(
        name=_text_value(item["name"], "name"),
        description=_text_value(item.get("description"), "description"),
        enabled=enabled,
        priority=priority,
        label_patterns=_patterns(item.get("labels"), "labels", None),
        action=action,
    )
    for label, pattern in match.items():
        setattr(rule, _ATTR_FOR_MATCH[label], pattern)
    try:
        check_rule(rule)
    except RuleValidationError as exc:
        raise _Refused(_quote(_yaml_field(exc.field)) + f": {exc.message}") from None
    return rule


def _load(text: str | bytes) -> tuple[object, str | None]:
    """The document's data, or an error: too big, not UTF-8, not YAML, nested too deeply."""
    size = len(text) if isinstance(text, bytes) else len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_DOCUMENT_BYTES:
        return None, f"the document is {size} bytes; at most {MAX_DOCUMENT_BYTES} are accepted"
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            return None, "the document is not UTF-8 text"
    try:
        return yaml.safe_load(text), None
    except yaml.MarkedYAMLError as exc:
        where = f" (line {exc.problem_mark.line + 1}, column {exc.problem_mark.column + 1})" if exc.problem_mark else ""
        return None, f"not valid YAML{where}: {exc.problem or exc.context or 'unreadable'}"
    except yaml.YAMLError as exc:
        return None, f"not valid YAML: {str(exc).splitlines()[0] if str(exc) else 'unreadable'}"
    except RecursionError:
        return None, "not accepted: the document is nested too deeply"


def parse_rules(text: str | bytes) -> ParsedRules:
    """Validate a document; `rules` are unsaved Rule objects in document order, `errors` name each problem."""
    result = ParsedRules()
    data, problem = _load(text)
    if problem is not None:
        result.errors.append(problem)
        return result
    if data is None:
        result.errors.append('the document is empty (expected "version: 1" and a "rules" list)')
        return result
    if not isinstance(data, dict):
        result.errors.append(f'the document must be a mapping with a "rules" list, not {_kind(data)}')
        return result
    unknown = [str(k) for k in data if k not in ("version", "rules")]
    if unknown:
        result.errors.append(f"unknown top-level field {unknown[0]!r} (allowed: version, rules)")
    version = data.get("version", FORMAT_VERSION)
    if isinstance(version, bool) or version != FORMAT_VERSION:
        result.errors.append(f'field "version": must be {FORMAT_VERSION}')
    items = data.get("rules")
    if not isinstance(items, list):
        result.errors.append('field "rules": must be a list of rules' + ("" if "rules" in data else " (missing)"))
        return result
    if len(items) > MAX_RULES:
        result.errors.append(f'field "rules": {len(items)} rules; at most {MAX_RULES} are accepted')
        return result
    _parse_items(items, result)
    if len(result.errors) > MAX_ERRORS:
        more = len(result.errors) - MAX_ERRORS
        result.errors[MAX_ERRORS:] = [f"... and {more} more error{'s' if more > 1 else ''}"]
    if result.errors:
        result.rules = []
    return result


def _parse_items(items: list[Any], result: ParsedRules) -> None:
    seen: dict[str, int] = {}
    by_priority: dict[int, str] = {}
    for position, item in enumerate(items, start=1):
        who = _who(item, position)
        if not isinstance(item, dict):
            result.errors.append(f"{who}: must be a mapping of fields ({', '.join(RULE_KEYS)}), not {_kind(item)}")
            continue
        try:
            rule = _rule_from(item)
        except _Refused as exc:
            result.errors.append(f"{who}: {exc}")
            continue
        if rule.name in seen:
            result.errors.append(_field_error(who, "name", f"duplicate of rule #{seen[rule.name]}"))
            continue
        seen[rule.name] = position
        if rule.priority in by_priority:
            result.warnings.append(
                f"{who} has the same priority ({rule.priority}) as {by_priority[rule.priority]}: "
                "rules of equal priority are tried in the order they were created"
            )
        else:
            by_priority[rule.priority] = who
        result.rules.append(rule)


@dataclass(frozen=True)
class ImportPlan:
    """What an import changes, by rule name."""

    created: list[str]
    updated: list[str]
    unchanged: list[str]
    deleted: list[str]

    def counts(self) -> dict[str, int]:
        return {
            "created": len(self.created),
            "updated": len(self.updated),
            "unchanged": len(self.unchanged),
            "deleted": len(self.deleted),
        }

    def summary(self) -> str:
        return ", ".join(f"{n} {what}" for what, n in self.counts().items())


_COMPARED = ("description", "enabled", "priority", *FIELD_LABELS, "label_patterns", "action")


def _differs(stored: Rule, new: Rule) -> bool:
    return any(getattr(stored, name) != getattr(new, name) for name in _COMPARED)


def _plan(stored: list[Rule], rules: list[Rule]) -> ImportPlan:
    by_name = {r.name: r for r in stored}
    names = {r.name for r in rules}
    return ImportPlan(
        created=[r.name for r in rules if r.name not in by_name],
        updated=[r.name for r in rules if r.name in by_name and _differs(by_name[r.name], r)],
        unchanged=[r.name for r in rules if r.name in by_name and not _differs(by_name[r.name], r)],
        deleted=[r.name for r in stored if r.name not in names],
    )


async def plan_import(session: AsyncSession, rules: list[Rule]) -> ImportPlan:
    """What import_rules would change (nothing is written)."""
    return _plan(await list_rules(session), rules)


async def import_rules(
    session: AsyncSession, rules: list[Rule], *, actor: User | str | None, address: str = ""
) -> ImportPlan:
    """Replace the whole rule set with `rules` (validated by parse_rules); the caller commits.

    A rule whose name is already stored is updated in place, so it keeps its id and its hit
    counter; the rest are created in document order; stored rules not in the document are
    deleted. One audit event (`rules.import`, with the counts) and one version bump.
    """
    for rule in rules:
        check_rule(rule)  # defence in depth: parse_rules already did
    stored = await list_rules(session)
    plan = _plan(stored, rules)
    by_name = {r.name: r for r in stored}
    now = utcnow()
    for name in plan.deleted:
        await session.delete(by_name[name])
    await session.flush()
    for rule in rules:
        target = by_name.get(rule.name)
        if target is None:
            fields = {name: getattr(rule, name) for name in ("name", *_COMPARED)}
            session.add(Rule(**fields, created_at=now, updated_at=now))
        elif rule.name in plan.updated:
            for name in _COMPARED:
                setattr(target, name, getattr(rule, name))
            target.updated_at = now
            session.add(target)
    audit.record(
        session,
        action="rules.import",
        actor=actor,
        target="rules",
        address=address,
        details={**plan.counts(), "created_names": plan.created[:50], "deleted_names": plan.deleted[:50]},
    )
    await bump_version(session)
    await session.flush()
    return plan
