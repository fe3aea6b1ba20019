"""One proposed command against the policy: refused outright, or the exact argv that would run.

In this order (the first refusal is the verdict):
1. the text: at most MAX_COMMAND_CHARS, printable ASCII only. Control characters (a newline, a tab,
   an escape) are refused, and so is every character outside ASCII: that one rule covers the
   look-alikes of shell characters (U+037E GREEK QUESTION MARK for `;`, U+FF1B FULLWIDTH SEMICOLON,
   U+FF04 FULLWIDTH DOLLAR SIGN...), invisible characters and other scripts alike.
2. shell metacharacters that chain, substitute, redirect or expand: ; & $ ` > < ( ) \\ { } * ? [ ] ~ ! #
   anywhere, quoted or not. `|` only between the commands of a pipeline (never quoted, never `||`).
3. the words, split like a POSIX shell would (`shlex`); each command of the pipeline (at most the
   policy's `max_pipeline`) must be one its server's group allows, with only the options, values and
   operands its rule allows (a getopt-like parse: `-n 5`, `-n5`, `--lines=5`, `-hT` bundles).

What runs is the words quoted again (`shlex.join`), joined by ` | `: exactly what was checked.
"""

from __future__ import annotations

import fnmatch
import functools
import re
import shlex
import unicodedata
from dataclasses import dataclass

from remediation_app.services.diagnostics.policy import CommandRule, Group, Policy, ValueSpec, group_for

MAX_COMMAND_CHARS = 500
MAX_WORDS = 40
FORBIDDEN = {
    ";": "`;` chains commands",
    "&": "`&` chains commands or runs them in the background",
    "$": "`$` substitutes variables and commands ($(...))",
    "`": "backticks substitute a command's output",
    ">": "`>` redirects output into a file",
    "<": "`<` redirects a file into the command",
    "(": "parentheses run a subshell",
    ")": "parentheses run a subshell",
    "\\": "backslashes escape characters past the checks",
    "{": "braces expand into several words",
    "}": "braces expand into several words",
    "*": "wildcards expand into file names",
    "?": "wildcards expand into file names",
    "[": "wildcards expand into file names",
    "]": "wildcards expand into file names",
    "~": "`~` expands into a home directory",
    "!": "`!` expands the shell's history",
    "#": "`#` starts a comment (what follows would not run)",
}


class Refused(Exception):
    """Why the policy refuses a command (the message is the verdict)."""


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    reason: str  # the refusal, or which group and commands allow it
    group: str = ""
    stages: tuple[tuple[str, ...], ...] = ()
    command: str = ""  # what would run (allowed only)


def describe_char(ch: str) -> str:
    name = unicodedata.name(ch, "")
    code = f"U+{ord(ch):04X}"
    if ch == "\n":
        return f"a newline ({code})"
    if ch == "\t":
        return f"a tab ({code})"
    return f"{code} {name}" if name else code


def _check_text(text: str) -> None:
    if not text.strip():
        raise Refused("the command is empty")
    if len(text) > MAX_COMMAND_CHARS:
        raise Refused(f"the command is longer than {MAX_COMMAND_CHARS} characters")
    for ch in text:
        code = ord(ch)
        if code < 0x20 or code == 0x7F:
            raise Refused(f"control characters are not allowed ({describe_char(ch)})")
        if code > 0x7E:
            raise Refused(
                f"only plain ASCII is allowed, not {describe_char(ch)} (look-alikes of shell characters are refused)"
            )
    if "||" in text:
        raise Refused("'||' is not allowed: `||` chains commands")
    for ch in text:
        if ch in FORBIDDEN:
            raise Refused(f"{ch!r} is not allowed: {FORBIDDEN[ch]}")


def _stages(text: str) -> list[str]:
    """The text split at unquoted `|` (a quoted one is refused: it would only confuse a reader)."""
    stages: list[str] = []
    current: list[str] = []
    quote = ""
    for ch in text:
        if quote:
            if ch == quote:
                quote = ""
            elif ch == "|":
                raise Refused("a quoted `|` is not allowed")
            current.append(ch)
        elif ch in "'\"":
            quote = ch
            current.append(ch)
        elif ch == "|":
            stages.append("".join(current))
            current = []
        else:
            current.append(ch)
    if quote:
        raise Refused("a quote is not closed")
    stages.append("".join(current))
    return stages


def _segments(path: str) -> list[str] | None:
    if not path.startswith("/"):
        return None
    if path == "/":
        return []
    parts = path[1:].split("/")
    if any(part in ("", ".", "..") for part in parts):
        return None
    return parts


def _glob(pattern: list[str], parts: list[str]) -> bool:
    """Segment by segment; `**` is any number of segments (memoized: several `**` stay linear-ish)."""

    @functools.cache
    def match(p: int, q: int) -> bool:
        if p == len(pattern):
            return q == len(parts)
        if pattern[p] == "**":
            return match(p + 1, q) or (q < len(parts) and match(p, q + 1))
        return q < len(parts) and fnmatch.fnmatchcase(parts[q], pattern[p]) and match(p + 1, q + 1)

    return match(0, 0)


def path_matches(glob: str, path: str) -> bool:
    pattern, parts = _segments(glob), _segments(path)
    if parts is None or pattern is None:
        return False
    return _glob(pattern, parts)


def _check_path(word: str, globs: tuple[str, ...], deny: tuple[str, ...], what: str) -> None:
    if _segments(word) is None:
        raise Refused(f"{what}: {word!r} must be an absolute path without `//`, `.`, `..` or a trailing `/`")
    if any(path_matches(d, word) for d in deny):
        raise Refused(f"{what}: {word!r} is never readable (deny_paths)")
    if not any(path_matches(g, word) for g in globs):
        raise Refused(f"{what}: {word!r} is not among the allowed paths ({', '.join(globs)})")


def _check_value(word: str, spec: ValueSpec, deny: tuple[str, ...], what: str) -> None:
    if spec.kind == "int":
        if not (word.isascii() and word.isdigit() and len(word) <= 10) or not spec.low <= int(word) <= spec.high:
            raise Refused(f"{what}: {word!r} is not {spec.describe()}")
    elif spec.kind == "text":
        if re.fullmatch(spec.pattern, word) is None:
            raise Refused(f"{what}: {word!r} does not match {spec.pattern}")
    elif spec.kind == "choice":
        if word not in spec.choices:
            raise Refused(f"{what}: {word!r} is not {spec.describe()}")
    elif spec.kind == "paths":
        _check_path(word, spec.paths, deny, what)


def _options(rule: CommandRule, words: list[str], deny: tuple[str, ...]) -> tuple[set[str], list[str]]:
    """The options given (as declared) and the operands, or Refused (getopt-like, options anywhere)."""
    name, seen, operands = rule.name, set(), []
    i, options_end = 1, False
    while i < len(words):
        word = words[i]
        i += 1
        if options_end or word == "-" or not word.startswith("-"):
            operands.append(word)
            continue
        if word == "--":
            options_end = True
            continue
        spec = rule.options.get(word)
        if spec is not None:  # declared as written (also single-dash long ones, as `ip -br`)
            seen.add(word)
            if spec.kind != "flag":
                if i >= len(words):
                    raise Refused(f"`{name}` option {word} needs a value ({spec.describe()})")
                _check_value(words[i], spec, deny, f"`{name}` option {word}")
                i += 1
            continue
        if word.startswith("--"):
            key, _, value = word.partition("=")
            spec = rule.options.get(key)
            if spec is None:
                raise Refused(f"`{name}` option {key} is not allowed")
            if spec.kind == "flag":
                raise Refused(f"`{name}` option {key} takes no value")
            _check_value(value, spec, deny, f"`{name}` option {key}")
            seen.add(key)
            continue
        for j in range(1, len(word)):  # bundled short options: -hT, -n5
            option = "-" + word[j]
            spec = rule.options.get(option)
            if spec is None:
                raise Refused(f"`{name}` option {option} is not allowed" + (f" (in {word})" if len(word) > 2 else ""))
            seen.add(option)
            if spec.kind != "flag":
                rest = word[j + 1 :]
                if not rest:
                    if i >= len(words):
                        raise Refused(f"`{name}` option {option} needs a value ({spec.describe()})")
                    rest = words[i]
                    i += 1
                _check_value(rest, spec, deny, f"`{name}` option {option}")
                break
    return seen, operands


def _check_stage(policy: Policy, group: Group, words: list[str], position: int) -> None:
    name = words[0]
    if "/" in name:
        raise Refused(f"name the command without a path ({name!r})")
    rule = group.commands.get(name)
    if rule is None:
        raise Refused(f"`{name}` is not a command the policy allows on this server (group {group.name!r})")
    if rule.stdin_only and position == 0:
        raise Refused(f"`{name}` may only read what another command pipes into it")
    seen, operands = _options(rule, words, policy.deny_paths)
    for one_of in rule.required:
        if not seen.intersection(one_of):
            raise Refused(f"`{name}` needs {' or '.join(one_of)}")
    if rule.subcommands:
        if not operands or operands[0] not in rule.subcommands:
            raise Refused(f"`{name}` needs one of these first: {', '.join(rule.subcommands)}")
        operands = operands[1:]
    spec = rule.operands
    if len(operands) > spec.max:
        raise Refused(f"`{name}` takes at most {spec.max} operand(s) here, not {len(operands)}")
    for word in operands:
        # A start of a forbidden word too: `ip` takes any abbreviation (`ip addr a` adds, `ip r fl` flushes).
        if any(forbidden.startswith(word) for forbidden in spec.forbid):
            raise Refused(f"`{name}` {word!r} is not allowed")
        _check_value(word, spec.value, policy.deny_paths, f"`{name}` operand")


def check_command(policy: Policy, text: str, *, server_name: str, environment: str = "") -> Verdict:
    """The policy's verdict on `text` for that server (never raises)."""
    group = group_for(policy, server_name, environment)
    try:
        _check_text(text)
        if group is None:
            raise Refused(f"no group of the policy covers the server {server_name!r}")
        stages = _stages(text)
        if len(stages) > policy.max_pipeline:
            raise Refused(f"at most {policy.max_pipeline} commands in a pipeline")
        parsed: list[list[str]] = []
        for stage in stages:
            try:
                words = shlex.split(stage, comments=False, posix=True)
            except ValueError as exc:
                raise Refused(f"the command cannot be split into words ({exc})") from None
            if not words:
                raise Refused("an empty command (a `|` with nothing before or after it)")
            if any(not word for word in words):
                raise Refused("an empty word ('' or \"\") is not allowed")
            parsed.append(words)
        if sum(len(words) for words in parsed) > MAX_WORDS:
            raise Refused(f"at most {MAX_WORDS} words")
        for position, words in enumerate(parsed):
            _check_stage(policy, group, words, position)
    except Refused as exc:
        return Verdict(False, str(exc), group=group.name if group else "")
    assert group is not None
    names = ", ".join(dict.fromkeys(words[0] for words in parsed))
    return Verdict(
        True,
        f"allowed by group {group.name!r} ({names})",
        group=group.name,
        stages=tuple(tuple(words) for words in parsed),
        command=" | ".join(shlex.join(words) for words in parsed),
    )
