"""The diagnostics policy: the shipped read-only set allows what an SRE reads and refuses, with a
reason, anything that chains, substitutes, redirects, expands, writes or is not plain ASCII; the
document is validated field by field; and a new policy's widenings are each named."""

from __future__ import annotations

import time

import pytest

from remediation_app.services.diagnostics.check import MAX_COMMAND_CHARS, check_command, path_matches
from remediation_app.services.diagnostics.policy import PolicyError, group_for, parse_policy
from remediation_app.services.diagnostics.policy_default import DEFAULT_POLICY
from remediation_app.services.diagnostics.widening import widenings

DEFAULT = parse_policy(DEFAULT_POLICY)


def verdict(command: str, server: str = "web-1", environment: str = "", policy=DEFAULT):
    return check_command(policy, command, server_name=server, environment=environment)


@pytest.mark.parametrize(
    ("command", "runs"),
    [
        ("df -h", "df -h"),
        ("df -hT /var", "df -hT /var"),
        ("du -sh /var/log", "du -sh /var/log"),
        ("du --max-depth=1 -h /var", "du --max-depth=1 -h /var"),
        ("free -m", "free -m"),
        ("uptime", "uptime"),
        ("ps aux", "ps aux"),
        ("ps -eo pid,comm,%cpu --sort=-%cpu | head -n 10", "ps -eo pid,comm,%cpu --sort=-%cpu | head -n 10"),
        ("top -b -n 1", "top -b -n 1"),
        ("ss -tlnp", "ss -tlnp"),
        ("netstat -an", "netstat -an"),
        ("systemctl status nginx", "systemctl status nginx"),
        ("systemctl is-active nginx.service --no-pager", "systemctl is-active nginx.service --no-pager"),
        ("journalctl -u nginx -n 100 --no-pager", "journalctl -u nginx -n 100 --no-pager"),
        ("journalctl --lines=50 --no-pager -p err", "journalctl --lines=50 --no-pager -p err"),
        ('journalctl --since "10 min ago" -n5 --no-pager', "journalctl --since '10 min ago' -n5 --no-pager"),
        ("tail -n 200 /var/log/syslog", "tail -n 200 /var/log/syslog"),
        ("cat /proc/meminfo", "cat /proc/meminfo"),
        ("cat /proc/1234/status /proc/loadavg", "cat /proc/1234/status /proc/loadavg"),
        ("head -n 5 /etc/os-release", "head -n 5 /etc/os-release"),
        ("lsblk -f", "lsblk -f"),
        ("mount", "mount"),
        ("ip addr show", "ip addr show"),
        ("ip -br a", "ip -br a"),
        ("ip route", "ip route"),
        ("dmesg -T | tail -n 100", "dmesg -T | tail -n 100"),
        ("vmstat 1 5", "vmstat 1 5"),
        ("iostat -x 1 3", "iostat -x 1 3"),
        ("ps aux | grep -i nginx | wc -l", "ps aux | grep -i nginx | wc -l"),
        ("  df   -h  ", "df -h"),
    ],
)
def test_the_default_allows_reading(command: str, runs: str) -> None:
    found = verdict(command)
    assert found.allowed, found.reason
    assert found.command == runs
    assert found.group == "read-only" and "read-only" in found.reason


@pytest.mark.parametrize(
    ("command", "why"),
    [
        ("rm -rf /tmp/x", "`rm` is not a command the policy allows"),
        ("df; rm -rf /tmp/x", "`;` chains commands"),
        ("df && rm -rf /tmp/x", "`&` chains commands"),
        ("df & rm", "`&` chains commands"),
        ("df || rm", "`||` chains commands"),
        ("echo $(id)", "`$` substitutes"),
        ("df $HOME", "`$` substitutes"),
        ("echo `id`", "backticks substitute"),
        ("df -h > /tmp/x", "`>` redirects output"),
        ("df -h >> /tmp/x", "`>` redirects output"),
        ("cat < /etc/shadow", "`<` redirects a file"),
        ("df -h\nrm -rf /tmp/x", "control characters are not allowed (a newline (U+000A))"),
        ("df -h\trm", "a tab (U+0009)"),
        ("df\x1b[2J", "control characters"),
        ("df -h\u037e rm -rf /tmp/x", "U+037E GREEK QUESTION MARK"),
        ("df -h\uff1b rm -rf /tmp/x", "U+FF1B FULLWIDTH SEMICOLON"),
        ("df \uff04(id)", "U+FF04 FULLWIDTH DOLLAR SIGN"),
        ("df\u00a0-h", "U+00A0 NO-BREAK SPACE"),
        ("df -h\u200b", "U+200B ZERO WIDTH SPACE"),
        ("\u0434f -h", "U+0434 CYRILLIC SMALL LETTER DE"),
        ("(df)", "parentheses run a subshell"),
        ("df \\; rm", "backslashes"),
        ("cat /proc/*", "wildcards"),
        ("cat ~/x", "`~` expands"),
        ("df -h # rm", "`#` starts a comment"),
        ("df {a,b}", "braces expand"),
        ("ps 'aux|x'", "a quoted `|` is not allowed"),
        ("df | | wc -l", "an empty command"),
        ("| df", "an empty command"),
        ("df '", "a quote is not closed"),
        ("df ''", "an empty word"),
        ("", "the command is empty"),
        ("df " + "x" * MAX_COMMAND_CHARS, "longer than"),
        ("/bin/df -h", "without a path"),
        ("FOO=bar df", "not a command the policy allows"),
        ("tail -f /var/log/syslog", "`tail` option -f is not allowed"),
        ("tail -n 5000 /var/log/syslog", "is not a number from 1 to 2000"),
        ("tail /var/log/syslog", "`tail` needs -n or --lines"),
        ("journalctl -u nginx -n 10", "`journalctl` needs --no-pager"),
        ("journalctl -f -n 10 --no-pager", "option -f is not allowed"),
        ("journalctl --vacuum-size=1 -n 1 --no-pager", "option --vacuum-size is not allowed"),
        ("du -h /var", "`du` needs -s or --summarize or -d or --max-depth"),
        ("du -d 9 /", "is not a number from 0 to 3"),
        ("cat /etc/shadow", "is not among the allowed paths"),
        ("cat /proc/1/environ", "never readable (deny_paths)"),
        ("cat /proc/kcore", "never readable"),
        ("cat /proc/../etc/shadow", "without `//`, `.`, `..`"),
        ("cat /proc//meminfo", "without `//`"),
        ("cat relative/path", "must be an absolute path"),
        ("mount /dev/sda1 /mnt", "takes at most 0 operand(s)"),
        ("ip addr add 10.0.0.1/24 dev eth0", "`ip` 'add' is not allowed"),
        ("ip link set eth0 down", "`ip` 'set' is not allowed"),
        # ip takes any abbreviation of a keyword: a start of a forbidden word is refused too.
        ("ip addr a 203.0.113.9/32 dev lo", "`ip` 'a' is not allowed"),
        ("ip r fl table local", "`ip` 'fl' is not allowed"),
        ("ip route de default", "`ip` 'de' is not allowed"),
        ("ip link se eth0 down", "`ip` 'se' is not allowed"),
        ("ip neigh fl all", "`ip` 'fl' is not allowed"),
        ("ip -b /tmp/cmds", "option -b is not allowed"),
        ("systemctl restart nginx", "needs one of these first: status"),
        ("systemctl -H otherhost status nginx", "option -H is not allowed"),
        ("ss -K dst 10.0.0.1", "option -K is not allowed"),
        ("dmesg -c", "option -c is not allowed"),
        ("dmesg --clear", "option --clear is not allowed"),
        ("top", "`top` needs -b"),
        ("top -b -n 5", "is not a number from 1 to 1"),
        ("grep root", "may only read what another command pipes into it"),
        ("ps aux | grep -r x", "option -r is not allowed"),
        ("ps aux | head -n 1 | grep x | wc -l", "at most 3 commands in a pipeline"),
        ("df --output", "option --output is not allowed"),
        ("free -h=1", "option -= is not allowed"),
        ("free --si=yes", "takes no value"),
        ("ps -o", "option -o needs a value"),
    ],
)
def test_the_default_refuses_with_a_reason(command: str, why: str) -> None:
    found = verdict(command)
    assert not found.allowed
    assert why in found.reason, found.reason
    assert found.command == "" and found.stages == ()


def test_groups_match_by_server_name_and_environment() -> None:
    policy = parse_policy(
        """
version: 1
groups:
  - name: prod-db
    servers: ["db-*"]
    environments: [prod]
    commands: {uptime: {}}
  - name: staging
    servers: ["*"]
    environments: [staging]
    commands: {free: {}}
"""
    )
    assert group_for(policy, "db-1", "prod").name == "prod-db"  # type: ignore[union-attr]
    assert group_for(policy, "db-1", "staging").name == "staging"  # type: ignore[union-attr]
    assert group_for(policy, "web-1", "prod") is None
    assert verdict("uptime", "db-1", "prod", policy).allowed
    assert "group 'prod-db'" in verdict("free", "db-1", "prod", policy).reason
    assert verdict("free", "web-1", "staging", policy).allowed
    refused = verdict("uptime", "web-1", "prod", policy)
    assert not refused.allowed and refused.reason == "no group of the policy covers the server 'web-1'"


def test_path_globs_match_whole_segments() -> None:
    assert path_matches("/proc/*", "/proc/meminfo")
    assert not path_matches("/proc/*", "/proc/1/status")
    assert path_matches("/var/log/**", "/var/log/nginx/access.log")
    assert path_matches("/var/log/**", "/var/log")
    assert not path_matches("/var/log/**", "/var/logs/x")
    assert path_matches("/**", "/")
    assert not path_matches("/proc/*", "/proc/../etc/passwd")


@pytest.mark.parametrize(
    ("document", "error"),
    [
        ("version: 1\ngroups: [", "not valid YAML"),
        ("- 1\n- 2", "must be a mapping"),
        ("version: 2\ngroups: [{name: a, commands: {df: {}}}]", "version: must be 1"),
        ("version: 1\ngroups: []", "groups: a list of 1 to 50 groups"),
        ("version: 1\nextra: 1\ngroups: [{name: a}]", "unknown field 'extra'"),
        ("version: 1\ngroups: [{name: 'a b'}]", "groups[0].name"),
        ("version: 1\ngroups: [{name: a}, {name: a}]", "'a' is used twice"),
        ("version: 1\ngroups: [{name: a, servers: []}]", "at least one server name glob"),
        ("version: 1\ngroups: [{name: a, commands: {/bin/df: {}}}]", "is not a command name"),
        ("version: 1\ngroups: [{name: a, commands: {df: {options: {h: flag}}}}]", "'h' is not an option"),
        ("version: 1\ngroups: [{name: a, commands: {df: {options: {-h: maybe}}}}]", "flag, or one of"),
        ("version: 1\ngroups: [{name: a, commands: {df: {options: {-n: {int: [5, 1]}}}}}]", "low <= high"),
        ("version: 1\ngroups: [{name: a, commands: {df: {options: {-x: {text: '('}}}}}]", "not a regular expression"),
        ("version: 1\ngroups: [{name: a, commands: {df: {required: [[-h]]}}}]", "-h is not among its options"),
        ("version: 1\ngroups: [{name: a, commands: {df: {operands: {max: 99}}}}]", "operands.max"),
        ("version: 1\ngroups: [{name: a, commands: {df: {operands: {paths: [relative]}}}}]", "is not allowed here"),
        ("version: 1\ngroups: [{name: a, commands: {df: {operands: {int: [1, 2], text: x}}}}]", "at most one of"),
        ("version: 1\ngroups: [{name: a, commands: {df: {stdin_only: 1}}}]", "stdin_only: true or false"),
        ("version: 1\ngroups: [{name: a, commands: {df: {sudo: true}}}]", "unknown field 'sudo'"),
        ("version: 1\nmax_pipeline: 9\ngroups: [{name: a}]", "max_pipeline"),
        ("version: 1\ndeny_paths: [etc]\ngroups: [{name: a}]", "deny_paths"),
        ("x: " + "y" * 300_000, "larger than 256 KiB"),
        ("!!python/object/apply:os.system ['id']", "not valid YAML"),
    ],
)
def test_a_bad_document_is_refused_with_where(document: str, error: str) -> None:
    with pytest.raises(PolicyError) as refused:
        parse_policy(document)
    assert any(error in line for line in refused.value.errors), refused.value.errors


def test_every_error_of_a_document_is_listed() -> None:
    document = """
version: 1
groups:
  - name: a
    commands:
      df: {options: {h: flag}}
      du: {operands: {max: -1}}
      ok: {}
"""
    with pytest.raises(PolicyError) as refused:
        parse_policy(document)
    assert len(refused.value.errors) == 2


def test_aliases_cannot_make_parsing_explode() -> None:
    """YAML aliases share one value: a document of nested aliases is parsed in bounded time."""
    lines = ["version: 1", "a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join(['*a' + str(i - 1)] * 10)}]" for i in range(1, 9)]
    lines.append("groups: [{name: g, commands: {df: {options: {-x: {choice: *a8}}}}}]")
    started = time.monotonic()
    with pytest.raises(PolicyError):
        parse_policy("\n".join(lines))
    assert time.monotonic() - started < 5


def test_widenings_are_named_and_narrowing_is_not_one() -> None:
    before = parse_policy(
        """
version: 1
deny_paths: ["/proc/kcore"]
groups:
  - name: a
    servers: [web-*]
    environments: [prod]
    commands:
      tail: {options: {-n: {int: [1, 100]}}, required: [[-n]], operands: {max: 1, paths: [/var/log/syslog]}}
      grep: {stdin_only: true}
  - name: b
    commands: {uptime: {}}
"""
    )
    after = parse_policy(
        """
version: 1
groups:
  - name: b
    commands: {uptime: {}, rm: {}}
  - name: a
    servers: [web-*, db-*]
    commands:
      tail: {options: {-n: {int: [1, 5000]}, -f: flag}, operands: {max: 2, paths: [/var/log/syslog, /etc/shadow]}}
      grep: {}
  - name: c
    commands: {reboot: {}}
"""
    )
    found = widenings(before, after)
    for expected in (
        "deny_paths no longer holds /proc/kcore",
        "group 'b' allows `rm`",
        "group 'a' also covers servers db-*",
        "group 'a' covers environments any (was prod)",
        "group 'a': `tail` option -n takes a number from 1 to 5000 (was a number from 1 to 100)",
        "group 'a': `tail` option -f allowed (no value)",
        "group 'a': `tail` no longer requires -n",
        "group 'a': `tail` takes up to 2 operands (was 1)",
        "group 'a': `tail` operands also takes paths /etc/shadow",
        "group 'a': `grep` may run first in a pipeline (reading files)",
        "group 'c' added for servers * (reboot)",
        "the order of the groups changed (a server may fall into another group)",
    ):
        assert expected in found, found
    assert widenings(after, after) == []
    narrower = DEFAULT_POLICY[: DEFAULT_POLICY.index("    commands:")] + "    commands: {uptime: {}}\n"
    assert widenings(DEFAULT, parse_policy(narrower)) == []


def test_a_group_that_goes_or_matches_fewer_servers_is_a_widening() -> None:
    """A server takes the first group that matches it: without its restrictive group it falls into a
    later, wider one."""
    before = parse_policy(
        """
version: 1
groups:
  - name: prod
    servers: [db*]
    commands: {uptime: {}}
  - name: wide
    commands: {uptime: {}, df: {}}
"""
    )
    removed = parse_policy(
        """
version: 1
groups:
  - name: wide
    commands: {uptime: {}, df: {}}
"""
    )
    assert "group 'prod' removed: its servers fall into a later group" in widenings(before, removed)
    fewer = parse_policy(
        """
version: 1
groups:
  - name: prod
    servers: [db-1]
    commands: {uptime: {}}
  - name: wide
    commands: {uptime: {}, df: {}}
"""
    )
    assert "group 'prod' matches other servers: some may fall into a later group" in widenings(before, fewer)
    assert widenings(before, before) == []
