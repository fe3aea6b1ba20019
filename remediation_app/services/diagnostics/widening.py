"""What a new policy allows that the old one did not: each widening in a sentence, for the audit log
(an admin widening the policy is recorded as such) and for the admin saving it.

Conservative: a changed regular expression or a changed kind of value counts as a widening (whether
one pattern accepts more than another cannot be decided in general), and so does reordering the
groups (a server may then fall into another group).
"""

from __future__ import annotations

from remediation_app.services.diagnostics.policy import CommandRule, Group, Policy, ValueSpec


def _value_widened(before: ValueSpec, after: ValueSpec) -> str:
    if before.kind != after.kind:
        return f"takes {after.describe()} (was {before.describe()})"
    if after.kind == "int" and (after.low < before.low or after.high > before.high):
        return f"takes {after.describe()} (was {before.describe()})"
    if after.kind == "text" and after.pattern != before.pattern:
        return f"takes text matching {after.pattern} (was {before.pattern})"
    if after.kind == "choice" and (added := [c for c in after.choices if c not in before.choices]):
        return "also takes " + ", ".join(added)
    if after.kind == "paths" and (added := [p for p in after.paths if p not in before.paths]):
        return "also takes paths " + ", ".join(added)
    return ""


def _rule_widened(before: CommandRule, after: CommandRule) -> list[str]:
    found = []
    for option, spec in after.options.items():
        if option not in before.options:
            found.append(f"option {option} allowed ({spec.describe()})")
        elif change := _value_widened(before.options[option], spec):
            found.append(f"option {option} {change}")
    for one_of in before.required:
        if one_of not in after.required:
            found.append(f"no longer requires {' or '.join(one_of)}")
    if added := [s for s in after.subcommands if s not in before.subcommands]:
        found.append("also allows " + ", ".join(added))
    if before.subcommands and not after.subcommands:
        found.append("no longer limits its first operand")
    if after.operands.max > before.operands.max:
        found.append(f"takes up to {after.operands.max} operands (was {before.operands.max})")
    if change := _value_widened(before.operands.value, after.operands.value):
        found.append(f"operands {change}")
    if dropped := [w for w in before.operands.forbid if w not in after.operands.forbid]:
        found.append("no longer forbids " + ", ".join(dropped))
    if before.stdin_only and not after.stdin_only:
        found.append("may run first in a pipeline (reading files)")
    return found


def _group_widened(before: Group, after: Group) -> list[str]:
    found = []
    where = f"group {after.name!r}"
    if added := [s for s in after.servers if s not in before.servers]:
        found.append(f"{where} also covers servers {', '.join(added)}")
    if before.environments and (
        not after.environments or any(e not in before.environments for e in after.environments)
    ):
        shown = ", ".join(after.environments) or "any"
        found.append(f"{where} covers environments {shown} (was {', '.join(before.environments)})")
    for name, rule in after.commands.items():
        previous = before.commands.get(name)
        if previous is None:
            found.append(f"{where} allows `{name}`")
        else:
            found.extend(f"{where}: `{name}` {change}" for change in _rule_widened(previous, rule))
    return found


def widenings(before: Policy, after: Policy) -> list[str]:
    """Each way `after` allows more than `before` ([] when it allows nothing more)."""
    found = []
    if dropped := [p for p in before.deny_paths if p not in after.deny_paths]:
        found.append("deny_paths no longer holds " + ", ".join(dropped))
    if after.max_pipeline > before.max_pipeline:
        found.append(f"pipelines of up to {after.max_pipeline} commands (was {before.max_pipeline})")
    old = {group.name: group for group in before.groups}
    for group in after.groups:
        previous = old.get(group.name)
        if previous is None:
            commands = ", ".join(group.commands) or "no commands"
            found.append(f"group {group.name!r} added for servers {', '.join(group.servers)} ({commands})")
        else:
            found.extend(_group_widened(previous, group))
    # A server takes the first group that matches it: a group that goes, or matches fewer servers,
    # can hand its servers to a later, wider group (counted conservatively, whatever that group allows).
    new = {group.name: group for group in after.groups}
    for group in before.groups:
        now = new.get(group.name)
        if now is None:
            found.append(f"group {group.name!r} removed: its servers fall into a later group")
        elif now.servers != group.servers or now.environments != group.environments:
            found.append(f"group {group.name!r} matches other servers: some may fall into a later group")
    kept_before = [g.name for g in before.groups if g.name in {h.name for h in after.groups}]
    kept_after = [g.name for g in after.groups if g.name in old]
    if kept_before != kept_after:
        found.append("the order of the groups changed (a server may fall into another group)")
    return found
