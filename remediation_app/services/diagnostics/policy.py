"""The diagnostics policy as a YAML document: which commands may even be offered for approval, per
group of servers. Parsed with `yaml.safe_load`, bounded, every field checked; errors name the group,
the command and the field. The shipped default is policy_default.py.

    version: 1
    deny_paths: [/proc/kcore, /proc/kmsg]     # never readable, whatever a rule allows
    groups:                                   # the first group that matches a server decides
      - name: linux
        servers: ["*"]                        # server name globs
        environments: []                      # and (if any) one of these environments
        commands:
          journalctl:
            options:                          # every option allowed, and its value
              -n: {int: [1, 1000]}
              --no-pager: flag
              -u: {text: '^[A-Za-z0-9@._:-]{1,100}$'}
            required: [[-n, --lines], [--no-pager]]   # one of each list must be given
            operands: {max: 0}
          systemctl:
            subcommands: [status, is-active]  # the first operand
            operands: {max: 5, text: '^[A-Za-z0-9@._:-]{1,100}$'}
          grep:
            stdin_only: true                  # only after a pipe (so its operand is a pattern, not a file)

A value (of an option, or the operands) is `flag` (an option without value), `{int: [low, high]}`,
`{text: REGEX}` (the whole value matches), `{choice: [a, b]}` or `{paths: [GLOB, ...]}` (absolute
paths; `*` matches within one path segment, `**` any number of segments). Operands take `max` (how
many, default 0) and at most one kind of value, plus `forbid` (words never allowed).
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

FORMAT_VERSION = 1
MAX_DOCUMENT_BYTES = 256 * 1024
MAX_GROUPS = 50
MAX_COMMANDS = 200
MAX_ITEMS = 100  # options of a command, globs of a list, words of a choice
MAX_PIPELINE = 4
MAX_ERRORS = 50
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
COMMAND_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")
OPTION_RE = re.compile(r"^--?[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
WORD_RE = re.compile(r"^[!-~]{1,100}$")  # printable ASCII, no space
GLOB_RE = re.compile(r"^/[!-~]{0,255}$")
SERVER_GLOB_RE = re.compile(r"^[A-Za-z0-9*?._\[\]-]{1,100}$")
PATTERN_MAX = 300
INT_MAX = 10**9
VALUE_KINDS = ("int", "text", "choice", "paths")


class PolicyError(ValueError):
    """A document that cannot be the policy; `errors` lists every problem found (the message the first)."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__(errors[0] if errors else "invalid policy")
        self.errors = errors


@dataclass(frozen=True)
class ValueSpec:
    """What an option's value (or an operand) may be; kind "flag" takes none."""

    kind: str
    low: int = 0
    high: int = 0
    pattern: str = ""
    choices: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.kind == "int":
            return f"a number from {self.low} to {self.high}"
        if self.kind == "text":
            return f"text matching {self.pattern}"
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        if self.kind == "paths":
            return "a path matching " + ", ".join(self.paths)
        return "no value"


ANY_VALUE = ValueSpec("none")


@dataclass(frozen=True)
class OperandSpec:
    max: int = 0
    value: ValueSpec = ANY_VALUE  # kind "none": any word (only the command-wide checks apply)
    forbid: tuple[str, ...] = ()


@dataclass(frozen=True)
class CommandRule:
    name: str
    options: dict[str, ValueSpec] = field(default_factory=dict)
    required: tuple[tuple[str, ...], ...] = ()
    subcommands: tuple[str, ...] = ()
    operands: OperandSpec = OperandSpec()
    stdin_only: bool = False


@dataclass(frozen=True)
class Group:
    name: str
    servers: tuple[str, ...]
    environments: tuple[str, ...]
    commands: dict[str, CommandRule]


@dataclass(frozen=True)
class Policy:
    groups: tuple[Group, ...]
    deny_paths: tuple[str, ...] = ()
    max_pipeline: int = 3


class _Refused(Exception):
    """One field is wrong (the message names where)."""


def _list(value: Any, where: str, check: re.Pattern[str] | None = None) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > MAX_ITEMS:
        raise _Refused(f"{where}: a list of at most {MAX_ITEMS} items")
    items = []
    for item in value:
        if isinstance(item, bool) or not isinstance(item, str | int):
            # Never repr() it: YAML aliases can make a small document a huge nested value.
            raise _Refused(f"{where}: a {type(item).__name__} is not a word")
        text = str(item)
        if check is not None and not check.fullmatch(text):
            raise _Refused(f"{where}: {text[:100]!r} is not allowed here")
        items.append(text)
    return tuple(items)


def _value(value: Any, where: str) -> ValueSpec:
    if value == "flag":
        return ValueSpec("flag")
    if not isinstance(value, dict) or len(value) != 1:
        raise _Refused(
            f"{where}: flag, or one of {{int: [low, high]}}, {{text: REGEX}}, {{choice: [...]}}, {{paths: [...]}}"
        )
    ((kind, arg),) = value.items()
    if kind == "int":
        if (
            not isinstance(arg, list)
            or len(arg) != 2
            or not all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n <= INT_MAX for n in arg)
            or arg[0] > arg[1]
        ):
            raise _Refused(f"{where}.int: [low, high], two whole numbers from 0 to {INT_MAX}, low <= high")
        return ValueSpec("int", low=arg[0], high=arg[1])
    if kind == "text":
        if not isinstance(arg, str) or not arg or len(arg) > PATTERN_MAX:
            raise _Refused(f"{where}.text: a regular expression of at most {PATTERN_MAX} characters")
        try:
            re.compile(arg)
        except re.error as exc:
            raise _Refused(f"{where}.text: not a regular expression ({exc})") from None
        return ValueSpec("text", pattern=arg)
    if kind == "choice":
        choices = _list(arg, f"{where}.choice", WORD_RE)
        if not choices:
            raise _Refused(f"{where}.choice: at least one word")
        return ValueSpec("choice", choices=choices)
    if kind == "paths":
        paths = _list(arg, f"{where}.paths", GLOB_RE)
        if not paths:
            raise _Refused(f"{where}.paths: at least one absolute path glob")
        return ValueSpec("paths", paths=paths)
    raise _Refused(f"{where}: unknown kind {str(kind)[:40]!r} (flag, int, text, choice or paths)")


def _operands(value: Any, where: str) -> OperandSpec:
    if value is None:
        return OperandSpec()
    if not isinstance(value, dict):
        raise _Refused(f"{where}: a mapping with max, forbid and at most one of int, text, choice, paths")
    unknown = set(value) - {"max", "forbid", *VALUE_KINDS}
    if unknown:
        raise _Refused(f"{where}: unknown field {sorted(map(str, unknown))[0]!r}")
    limit = value.get("max", 0)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 0 <= limit <= 32:
        raise _Refused(f"{where}.max: a whole number from 0 to 32")
    kinds = [k for k in VALUE_KINDS if k in value]
    if len(kinds) > 1:
        raise _Refused(f"{where}: at most one of int, text, choice, paths")
    spec = _value({kinds[0]: value[kinds[0]]}, where) if kinds else ANY_VALUE
    return OperandSpec(max=limit, value=spec, forbid=_list(value.get("forbid"), f"{where}.forbid", WORD_RE))


def _command(name: Any, value: Any, where: str) -> CommandRule:
    if not isinstance(name, str) or not COMMAND_RE.fullmatch(name):
        raise _Refused(f"{where}: {str(name)[:60]!r} is not a command name (no path, no spaces)")
    where = f"{where}.{name}"
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise _Refused(f"{where}: a mapping (options, required, subcommands, operands, stdin_only)")
    unknown = set(value) - {"options", "required", "subcommands", "operands", "stdin_only", "description"}
    if unknown:
        raise _Refused(f"{where}: unknown field {sorted(map(str, unknown))[0]!r}")
    raw_options = value.get("options") or {}
    if not isinstance(raw_options, dict) or len(raw_options) > MAX_ITEMS:
        raise _Refused(f"{where}.options: a mapping of at most {MAX_ITEMS} options")
    options: dict[str, ValueSpec] = {}
    for option, spec in raw_options.items():
        if isinstance(option, int) and not isinstance(option, bool) and option < 0:
            option = str(option)  # YAML reads `-4:` as the number -4
        if not isinstance(option, str) or not OPTION_RE.fullmatch(option):
            raise _Refused(f"{where}.options: {str(option)[:60]!r} is not an option (-x or --name)")
        options[option] = _value(spec, f"{where}.options.{option}")
    required = value.get("required") or []
    if not isinstance(required, list) or len(required) > 10:
        raise _Refused(f"{where}.required: a list of at most 10 lists of options")
    groups = []
    for index, one_of in enumerate(required):
        names = _list(one_of if isinstance(one_of, list) else [one_of], f"{where}.required[{index}]")
        missing = [n for n in names if n not in options]
        if not names or missing:
            raise _Refused(f"{where}.required[{index}]: {', '.join(missing) or 'empty'} is not among its options")
        groups.append(names)
    stdin_only = value.get("stdin_only", False)
    if not isinstance(stdin_only, bool):
        raise _Refused(f"{where}.stdin_only: true or false")
    return CommandRule(
        name=name,
        options=options,
        required=tuple(groups),
        subcommands=_list(value.get("subcommands"), f"{where}.subcommands", WORD_RE),
        operands=_operands(value.get("operands"), f"{where}.operands"),
        stdin_only=stdin_only,
    )


def _group(value: Any, index: int, seen: set[str]) -> tuple[Group, list[str]]:
    where = f"groups[{index}]"
    if not isinstance(value, dict):
        raise _Refused(f"{where}: a mapping (name, servers, environments, commands)")
    name = value.get("name")
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise _Refused(f"{where}.name: 1-100 letters, digits, '.', '_' or '-'")
    if name in seen:
        raise _Refused(f"{where}.name: {name!r} is used twice")
    seen.add(name)
    where = f"group {name!r}"
    unknown = set(value) - {"name", "servers", "environments", "commands", "description"}
    if unknown:
        raise _Refused(f"{where}: unknown field {sorted(map(str, unknown))[0]!r}")
    servers = _list(value.get("servers", ["*"]), f"{where}.servers", SERVER_GLOB_RE)
    if not servers:
        raise _Refused(f'{where}.servers: at least one server name glob ("*": every server)')
    environments = _list(value.get("environments"), f"{where}.environments", re.compile(r"^[A-Za-z0-9._-]{0,64}$"))
    raw = value.get("commands") or {}
    if not isinstance(raw, dict) or len(raw) > MAX_COMMANDS:
        raise _Refused(f"{where}.commands: a mapping of at most {MAX_COMMANDS} commands")
    commands: dict[str, CommandRule] = {}
    errors: list[str] = []
    for command, spec in raw.items():
        try:
            commands[str(command)] = _command(command, spec, f"{where}.commands")
        except _Refused as exc:
            errors.append(str(exc))
    return Group(name, servers, environments, commands), errors


def parse_policy(text: str) -> Policy:
    """The policy a document describes; PolicyError lists what is wrong with it."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_DOCUMENT_BYTES:
        raise PolicyError([f"the document is larger than {MAX_DOCUMENT_BYTES // 1024} KiB"])
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PolicyError([f"not valid YAML: {str(exc)[:300]}"]) from None
    except RecursionError:
        raise PolicyError(["not valid YAML: nested too deeply"]) from None
    if not isinstance(document, dict):
        raise PolicyError(["the document must be a mapping with `version` and `groups`"])
    errors: list[str] = []
    if document.get("version") != FORMAT_VERSION:
        errors.append(f"version: must be {FORMAT_VERSION}")
    unknown = set(document) - {"version", "groups", "deny_paths", "max_pipeline"}
    if unknown:
        errors.append(f"unknown field {sorted(map(str, unknown))[0]!r} (version, groups, deny_paths, max_pipeline)")
    deny: tuple[str, ...] = ()
    try:
        deny = _list(document.get("deny_paths"), "deny_paths", GLOB_RE)
    except _Refused as exc:
        errors.append(str(exc))
    pipeline = document.get("max_pipeline", 3)
    if not isinstance(pipeline, int) or isinstance(pipeline, bool) or not 1 <= pipeline <= MAX_PIPELINE:
        errors.append(f"max_pipeline: a whole number from 1 to {MAX_PIPELINE}")
        pipeline = 1
    raw_groups = document.get("groups")
    groups: list[Group] = []
    if not isinstance(raw_groups, list) or not raw_groups or len(raw_groups) > MAX_GROUPS:
        errors.append(f"groups: a list of 1 to {MAX_GROUPS} groups")
        raw_groups = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_groups):
        try:
            group, problems = _group(raw, index, seen)
        except _Refused as exc:
            errors.append(str(exc))
            continue
        errors.extend(problems)
        groups.append(group)
    if errors:
        raise PolicyError(errors[:MAX_ERRORS])
    return Policy(groups=tuple(groups), deny_paths=deny, max_pipeline=pipeline)


def group_for(policy: Policy, server_name: str, environment: str) -> Group | None:
    """The first group whose server globs match the name and whose environments (if any) include the
    server's environment."""
    for group in policy.groups:
        if not any(fnmatch.fnmatchcase(server_name, p) for p in group.servers):
            continue
        if group.environments and environment not in group.environments:
            continue
        return group
    return None
