"""Managing the rule set (no reflex import): the limits an editable rule must keep, hit counters,
reordering, and the dry run of an unsaved draft against the stored rules.

The engine itself (rules/engine.py) only refuses what could never work; the limits here keep a
rule set readable and bounded wherever rules are edited: the rules page and YAML import.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.models import Alert, Rule
from remediation_app.services.rules.engine import RuleSet, RuleValidationError, compile_rule, validate_rule

MIN_PRIORITY = 0
MAX_PRIORITY = 1_000_000
DEFAULT_PRIORITY = 100
MAX_NAME = 255
MAX_DESCRIPTION = 4096
MAX_LABEL_PATTERNS = 32
MAX_RULES = 1000
# The id a new (unsaved) draft gets in a dry run: after every stored rule of its priority, where
# it will be once created (ties are tried in creation order).
DRAFT_ID = 2**31 - 1
RECENT_ALERTS = 100


def check_rule(rule: Rule) -> None:
    """Everything validate_rule checks, plus the editing limits; raises RuleValidationError naming the field."""
    if isinstance(rule.name, str) and rule.name != rule.name.strip():
        raise RuleValidationError("name", "must not start or end with whitespace")
    if isinstance(rule.name, str) and any(ord(c) < 0x20 or ord(c) == 0x7F for c in rule.name):
        raise RuleValidationError("name", "must not contain control characters (line breaks, tabs)")
    validate_rule(rule)
    if not isinstance(rule.enabled, bool):
        raise RuleValidationError("enabled", "must be true or false")
    if isinstance(rule.priority, bool) or not isinstance(rule.priority, int):
        raise RuleValidationError("priority", "must be a whole number")
    if not MIN_PRIORITY <= rule.priority <= MAX_PRIORITY:
        raise RuleValidationError("priority", f"must be between {MIN_PRIORITY} and {MAX_PRIORITY}")
    if len(rule.description or "") > MAX_DESCRIPTION:
        raise RuleValidationError("description", f"longer than {MAX_DESCRIPTION} characters")
    if len(rule.label_patterns or {}) > MAX_LABEL_PATTERNS:
        raise RuleValidationError("label_patterns", f"more than {MAX_LABEL_PATTERNS} label patterns")


async def name_taken(session: AsyncSession, name: str, *, except_id: int | None) -> bool:
    query = select(Rule.id).where(col(Rule.name) == name)
    if except_id is not None:
        query = query.where(col(Rule.id) != except_id)
    return (await session.exec(query)).first() is not None


@dataclass(frozen=True)
class RuleHits:
    count: int
    last: datetime | None


async def rule_hits(session: AsyncSession) -> dict[int, RuleHits]:
    """Per rule id: how many stored alerts it decided, and when the latest of them first arrived."""
    rows = await session.exec(
        select(col(Alert.matched_rule_id), func.count(), func.max(col(Alert.first_received_at)))
        .where(col(Alert.matched_rule_id).is_not(None))
        .group_by(col(Alert.matched_rule_id))
    )
    return {int(rule_id): RuleHits(int(count), last) for rule_id, count, last in rows.all() if rule_id is not None}


def _order(priorities: dict[int, int]) -> list[int]:
    return sorted(priorities, key=lambda rule_id: (priorities[rule_id], rule_id))


def plan_move(rules: list[Rule], rule_id: int, offset: int) -> dict[int, int]:
    """New priorities (rule id -> priority) that move one rule `offset` (-1 up, +1 down) places in
    the order rules are tried, changing as few rules as possible; {} when it cannot move."""
    priorities = {r.id: r.priority for r in rules if r.id is not None}
    order = _order(priorities)
    if rule_id not in priorities or offset not in (-1, 1):
        return {}
    i = order.index(rule_id)
    j = i + offset
    if not 0 <= j < len(order):
        return {}
    wanted = list(order)
    wanted[i], wanted[j] = wanted[j], wanted[i]
    mover, other = order[i], order[j]
    candidates = [
        {mover: priorities[other], other: priorities[mover]},  # swap the two priorities
        {mover: priorities[other] + offset},  # step just past the neighbour (ties)
    ]
    for change in candidates:
        trial = {**priorities, **change}
        in_range = all(MIN_PRIORITY <= p <= MAX_PRIORITY for p in change.values())
        if in_range and _order(trial) == wanted:
            return {k: v for k, v in change.items() if priorities[k] != v}
    # Ties all around: number the whole set in steps of 10, in the wanted order.
    renumbered = {rid: (n + 1) * 10 for n, rid in enumerate(wanted)}
    return {k: v for k, v in renumbered.items() if priorities[k] != v}


def rule_set_with_draft(stored: list[Rule], draft: Rule | None) -> RuleSet:
    """The stored rules with the draft in place of the rule it edits (or added, if it is new).
    Raises RuleValidationError if the draft's patterns do not compile (a stored rule that does not
    is shown as not usable)."""
    rules = [r for r in stored if draft is None or draft.id is None or r.id != draft.id]
    if draft is not None:
        placed = draft.model_copy(update={"id": draft.id or DRAFT_ID})
        if placed.enabled:
            compile_rule(placed)
        rules.append(placed)
    return RuleSet(rules)


async def recent_alerts(session: AsyncSession, limit: int = RECENT_ALERTS) -> list[Alert]:
    """The alerts with the latest activity (ignored ones included), for the rules page's dry run."""
    rows = await session.exec(
        select(Alert).order_by(col(Alert.last_received_at).desc(), col(Alert.id).desc()).limit(limit)
    )
    return list(rows.all())
