"""The rules engine (services/rules/engine.py): patterns, order, explanations, validation."""

from __future__ import annotations

import itertools
import logging
import re
import time

import pytest

from remediation_app.models import Rule
from remediation_app.services.rules.admin import rule_set_with_draft
from remediation_app.services.rules.dry_run import trace_rows
from remediation_app.services.rules.engine import (
    MATCH_VALUE_MAX,
    MAX_PATTERN,
    MAX_PROGRAM_SIZE,
    RuleSet,
    RuleValidationError,
    compile_pattern,
    validate_rule,
)

_ids = itertools.count(1)


def rule(name: str | None = None, *, action: str = "ignore", **fields: object) -> Rule:
    rule_id = fields.pop("id", None) or next(_ids)
    return Rule(id=rule_id, name=name or f"rule-{rule_id}", action=action, **fields)


def matches(pattern: str, value: str) -> bool:
    compiled = compile_pattern(pattern)
    return compiled is None or compiled.matches(value)


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("web-*", "web-1", True),
        ("web-*", "WEB-12:9100", True),
        ("web-*", "web-", True),
        ("web-*", "my-web-1", False),  # anchored at the start
        ("*-1", "web-1", True),
        ("*-1", "web-12", False),  # anchored at the end
        ("web", "web-1", False),
        ("web", "WeB", True),  # case-insensitive
        ("web-?", "web-1", True),
        ("web-?", "web-12", False),
        ("web-?", "web-", False),
        ("?", "\n", True),
        ("a*b?c", "aXXXbYc", True),
        ("a.b", "axb", False),  # regex metacharacters are literal in a wildcard
        ("a.b", "a.b", True),
        ("a+(b)", "a+(b)", True),
        ("[ab]", "a", False),
        ("*", "", True),
        ("", "anything", True),
    ],
)
def test_wildcards(pattern: str, value: str, expected: bool) -> None:
    assert matches(pattern, value) is expected


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("re:web-[0-9]+", "web-12", True),
        ("re:web-[0-9]+", "WEB-12", True),  # case-insensitive
        ("re:web-[0-9]+", "xweb-12", False),  # anchored
        ("re:web-[0-9]+", "web-12x", False),
        ("re:web|db", "db", True),  # alternation is anchored as a whole
        ("re:web|db", "webdb", False),
        ("re:web|db", "mydb", False),
        ("re:.*", "", True),
        ("re:crit.*", "Critical", True),
        ("re:a*b?c", "aaac", True),  # `*` and `?` are regex operators after re:
        ("re:a*b?c", "aXbYc", False),
    ],
)
def test_regular_expressions(pattern: str, value: str, expected: bool) -> None:
    assert matches(pattern, value) is expected


def test_patterns_apply_to_their_labels() -> None:
    rules = RuleSet(
        [
            rule(
                "db-critical",
                alertname_pattern="Postgres*",
                severity_pattern="critical",
                instance_pattern="db-?:*",
                job_pattern="re:postgres(ql)?",
            )
        ]
    )
    labels = {"alertname": "PostgresDown", "severity": "CRITICAL", "instance": "db-1:5432", "job": "postgresql"}
    assert rules.decide(labels).rule_name == "db-critical"
    for name, other in [("alertname", "MySQLDown"), ("severity", "warning"), ("instance", "db-12:5432"), ("job", "pg")]:
        assert rules.decide({**labels, name: other}).rule_id is None, name


def test_lower_priority_wins() -> None:
    low, high = rule("low", priority=5, action="ignore", id=50), rule("high", priority=50, action="auto_analyze", id=1)
    for order in ([low, high], [high, low]):
        decision = RuleSet(order).decide({"alertname": "X"})
        assert (decision.rule_name, decision.action, decision.rule_id) == ("low", "ignore", 50)


def test_id_breaks_priority_ties() -> None:
    first, second = rule("first", priority=10, id=3), rule("second", priority=10, action="manual", id=7)
    assert RuleSet([second, first]).decide({}).rule_name == "first"


def test_first_enabled_match_wins_and_disabled_rules_are_skipped() -> None:
    rules = RuleSet(
        [
            rule("disabled", priority=1, enabled=False, alertname_pattern="X", action="ignore"),
            rule("no-match", priority=2, alertname_pattern="Y", action="ignore"),
            rule("winner", priority=3, alertname_pattern="X", action="auto_analyze"),
            rule("later", priority=4, alertname_pattern="*", action="manual"),
        ]
    )
    decision = rules.decide({"alertname": "X"})
    assert (decision.rule_name, decision.action) == ("winner", "auto_analyze")


def test_label_patterns() -> None:
    rules = RuleSet([rule("sre", label_patterns={"team": "sre*", "env": "re:prod|staging"}, action="auto_analyze")])
    assert rules.decide({"team": "SRE-core", "env": "prod"}).rule_name == "sre"
    assert rules.decide({"team": "sre", "env": "dev"}).rule_id is None
    assert rules.decide({"team": "dev", "env": "prod"}).rule_id is None
    assert rules.decide({"env": "prod"}).rule_id is None  # a missing label is ""


def test_a_missing_label_is_the_empty_string() -> None:
    rules = RuleSet(
        [
            rule("no-team", priority=1, label_patterns={"team": "re:"}, action="manual"),
            rule("any-team", priority=2, label_patterns={"team": "?*"}, action="ignore"),
        ]
    )
    assert rules.decide({"alertname": "X"}).rule_name == "no-team"
    assert rules.decide({"team": ""}).rule_name == "no-team"
    assert rules.decide({"team": "a"}).rule_name == "any-team"
    # Empty and "*" patterns match anything, a missing label included.
    assert RuleSet([rule("star", label_patterns={"team": "*"})]).decide({}).rule_name == "star"
    assert RuleSet([rule("blank", severity_pattern="")]).decide({}).rule_name == "blank"


def test_no_match_is_manual_with_a_reason() -> None:
    decision = RuleSet([rule(alertname_pattern="Watchdog")]).decide({"alertname": "X"})
    assert decision.action == "manual"
    assert decision.rule_id is None and decision.rule_name == ""
    assert "no enabled rule matched" in decision.reason
    empty = RuleSet([]).decide({"alertname": "X"})
    assert empty.action == "manual" and empty.reason


def test_the_reason_says_which_rule_and_why() -> None:
    decision = RuleSet([rule("crit", priority=7, severity_pattern="crit*")]).decide({"severity": "critical"})
    assert "crit" in decision.reason and "priority 7" in decision.reason
    assert "severity 'critical' matches 'crit*'" in decision.reason


def test_explain_traces_each_rule_in_order_up_to_the_winner() -> None:
    rules = RuleSet(
        [
            rule("watchdog", priority=10, alertname_pattern="Watchdog", action="ignore"),
            rule("off", priority=15, enabled=False, action="ignore"),
            rule("critical", priority=20, severity_pattern="critical", action="auto_analyze"),
            rule("after", priority=30, action="manual"),
            rule("off-later", priority=40, enabled=False, action="ignore"),
        ]
    )
    decision = rules.explain({"alertname": "DiskFull", "severity": "critical"})
    assert decision.rule_name == "critical" and decision.action == "auto_analyze"
    assert [(t.rule, t.enabled, t.matched) for t in decision.trace] == [
        ("watchdog", True, False),
        ("off", False, False),
        ("critical", True, True),
    ]
    assert decision.trace[0].reasons == ["alertname 'DiskFull' does not match 'Watchdog'"]
    assert decision.trace[1].reasons == ["disabled"]
    assert decision.trace[2].reasons == ["severity 'critical' matches 'critical'"]
    # explain and decide agree
    assert rules.decide({"alertname": "DiskFull", "severity": "critical"}).reason == decision.reason


def test_explain_without_a_winner_traces_every_rule() -> None:
    rules = RuleSet([rule("a", priority=1, alertname_pattern="A"), rule("b", priority=2, enabled=False)])
    decision = rules.explain({"alertname": "Z"})
    assert decision.action == "manual" and decision.rule_id is None
    assert [(t.rule, t.matched) for t in decision.trace] == [("a", False), ("b", False)]


def test_explain_shortens_long_values() -> None:
    decision = RuleSet([rule("x", instance_pattern="db")]).explain({"instance": "h" * 10_000})
    assert len(decision.trace[0].reasons[0]) < 200


@pytest.mark.parametrize(
    ("fields", "field_name", "why"),
    [
        ({"alertname_pattern": "re:("}, "alertname_pattern", "invalid regular expression"),
        ({"severity_pattern": "re:[a-"}, "severity_pattern", "invalid regular expression"),
        ({"instance_pattern": "re:*x"}, "instance_pattern", "invalid regular expression"),
        ({"job_pattern": "re:a{2,1}"}, "job_pattern", "invalid regular expression"),
        ({"label_patterns": {"team": "re:(?P<"}}, "label_patterns.team", "invalid regular expression"),
        ({"label_patterns": {"1team": "x"}}, "label_patterns.1team", "not a valid Prometheus label name"),
        ({"label_patterns": {"team-name": "x"}}, "label_patterns.team-name", "not a valid Prometheus label name"),
        ({"label_patterns": {"": "x"}}, "label_patterns.", "not a valid Prometheus label name"),
        ({"alertname_pattern": "x" * (MAX_PATTERN + 1)}, "alertname_pattern", "longer than"),
        ({"action": "delete_everything"}, "action", "is not one of"),
        ({"name": "  "}, "name", "needs a name"),
        ({"name": "n" * 256}, "name", "longer than 255"),
        ({"name": "a\x00b"}, "name", "NUL"),
        ({"job_pattern": "re:a\x00"}, "job_pattern", "NUL"),
        ({"label_patterns": {"team": None}}, "label_patterns.team", "must be text"),
    ],
)
def test_validate_rule_names_the_field_and_says_why(fields: dict[str, object], field_name: str, why: str) -> None:
    data = {"name": "r", "action": "ignore", **fields}
    with pytest.raises(RuleValidationError) as exc:
        validate_rule(Rule(**data))
    assert exc.value.field == field_name
    assert why in exc.value.message
    assert str(exc.value).startswith(f"{field_name}: ")


def test_regex_error_message_carries_the_regex_error() -> None:
    with pytest.raises(RuleValidationError) as exc:
        validate_rule(Rule(name="r", action="ignore", alertname_pattern="re:(unclosed"))
    assert "'(unclosed'" in exc.value.message
    assert "missing )" in exc.value.message


def test_valid_rules_pass_validation() -> None:
    validate_rule(
        Rule(
            name="ok",
            action="auto_analyze",
            alertname_pattern="re:Kube.*",
            severity_pattern="crit*",
            instance_pattern="?",
            label_patterns={"team": "sre", "_private": "re:x|y", "namespace2": ""},
        )
    )
    validate_rule(Rule(name="new rule without an id yet", action="manual"))


# Patterns that a backtracking engine takes exponential or high-polynomial time on, each with a value
# it matches and one it does not, both at least 4096 characters long (the shape of an attack: a
# long label value that almost matches).
CATASTROPHIC = [
    ("re:(a|aa)*c", "a" * 4095 + "c", "a" * 4094 + "ca"),
    ("re:(a|a)*c", "a" * 4095 + "c", "a" * 4094 + "ca"),
    ("re:((a)+)+c", "a" * 4095 + "c", "a" * 4094 + "ca"),
    ("re:(.*a){12}", "a" * 5000, "a" * 4095 + "b"),
    (r"re:(\w|\d)*!", "1" * 4095 + "!", "1" * 2000 + "!" + "1" * 2095),
    ("re:(a+)+$", "a" * 5000, "a" * 4000 + "b" + "a" * 100),
    (r"re:(\w+\s?)*x", "ab " * 1365 + "x", "ab " * 1700),
    ("re:(x{1,3})+", "x" * 5000, "x" * 4000 + "y" + "x" * 100),
    ("*db*prod*", "db" * 2046 + "prod", "prod" + "db" * 2498),
]


@pytest.mark.parametrize(("pattern", "hit", "miss"), CATASTROPHIC)
def test_catastrophic_patterns_are_accepted_and_decided_at_once(pattern: str, hit: str, miss: str) -> None:
    validate_rule(rule("attack", instance_pattern=pattern))
    rules = RuleSet([rule("attack", action="auto_analyze", instance_pattern=pattern, priority=1)])
    started = time.perf_counter()
    matched, missed = rules.explain({"instance": hit}), rules.explain({"instance": miss})
    assert time.perf_counter() - started < 1  # a sanity bound: RE2 takes microseconds here
    assert matched.action == "auto_analyze"
    assert matched.trace[0].reasons[0].endswith(f" matches {pattern!r}")
    assert missed.action == "manual"
    assert missed.trace[0].reasons[0].endswith(f" does not match {pattern!r}")


def test_the_webhook_attack_is_decided_at_once() -> None:
    # The attack: a common rule and 900 alerts whose instance is 5000 characters that never match.
    rules = RuleSet(
        [
            rule("prod-db", action="auto_analyze", instance_pattern="*db*prod*", priority=1),
            rule("rest", action="manual", priority=2),
        ]
    )
    values = [f"prod-{i}-" + "db" * 2500 for i in range(900)]  # "db" everywhere, never "prod" after it
    started = time.perf_counter()
    decisions = [rules.decide({"instance": value}) for value in values]
    assert time.perf_counter() - started < 2  # a sanity bound: this takes milliseconds
    assert {d.rule_name for d in decisions} == {"rest"}


def _python_wildcard(pattern: str) -> str:
    return "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)


@pytest.mark.parametrize(
    "pattern",
    [p for p, _hit, _miss in CATASTROPHIC] + ["re:web-[0-9]+", "a?c*", "re:a.c", "Ac1", "a?c", "k", "re:k", "*s*"],
)
def test_re2_decides_like_python_re_on_short_values(pattern: str) -> None:
    if pattern.startswith("re:"):
        python = re.compile(pattern[3:], re.IGNORECASE)
    else:
        python = re.compile(_python_wildcard(pattern), re.IGNORECASE | re.DOTALL)
    alphabet = ["a", "A", "c", "x", "1", "!", " ", "b", "\n"]
    values = ["".join(p) for n in range(6) for p in itertools.product(alphabet[:6] if n > 3 else alphabet, repeat=n)]
    values += ["db-prod", "DB1PROD", "web-12", "ab ab x", "STRASSE", "stra\u00dfe"]
    values += ["K", "\u212a", "s", "\u017f", "x\u017fx"]  # case folding: Kelvin sign, long s
    for value in values:
        assert matches(pattern, value) is (python.fullmatch(value) is not None), (pattern, value)


@pytest.mark.parametrize(
    "body", ["(?=a)a", "(?!x).*", "(?<=a)b", "(?<!a)b", r"(a)\1", "(?P<n>a)(?P=n)", "(?>a+)b", "a++b", r"a\Z"]
)
def test_python_only_syntax_is_refused_naming_the_field(body: str) -> None:
    with pytest.raises(RuleValidationError) as refused:
        validate_rule(rule("python", label_patterns={"team": "re:" + body}))
    assert refused.value.field == "label_patterns.team"
    assert "RE2 does not support" in refused.value.message and repr(body) in refused.value.message


@pytest.mark.parametrize("pattern", ["re:.*a.{500}", "*" + "?" * 400, r"re:\w*a\w{250}"])
def test_patterns_too_large_for_a_quick_match_are_refused(pattern: str) -> None:
    with pytest.raises(RuleValidationError) as refused:
        validate_rule(rule("large", job_pattern=pattern))
    assert refused.value.field == "job_pattern"
    assert "too complex" in refused.value.message and str(MAX_PROGRAM_SIZE) in refused.value.message


def test_long_literal_patterns_are_not_too_complex() -> None:
    validate_rule(rule("long", job_pattern="web-server-" * 93, instance_pattern="приветствие" * 30))


def test_a_stored_rule_that_re2_refuses_is_skipped_and_shown_as_not_usable(caplog: pytest.LogCaptureFixture) -> None:
    # Saved before patterns ran on RE2: ingest goes on with the other rules, and says why.
    stored = rule("lookahead", priority=1, action="ignore", alertname_pattern="re:(?!Watchdog).*")
    fallback = rule("fallback", priority=2, action="auto_analyze")
    with caplog.at_level(logging.WARNING, logger="remediation_app.services.rules.engine"):
        rules = RuleSet([stored, fallback])
    assert "'lookahead'" in caplog.text and "RE2 does not support" in caplog.text
    assert rules.decide({"alertname": "DiskFull"}).rule_name == "fallback"
    decision = rules.explain({"alertname": "DiskFull"})
    assert decision.rule_name == "fallback"
    assert [(t.rule, t.enabled, t.usable, t.matched) for t in decision.trace] == [
        ("lookahead", True, False, False),
        ("fallback", True, True, True),
    ]
    row = trace_rows(decision)[0]
    assert row["verdict"] == "not usable" and "alertname_pattern" in row["reasons"]
    # The rules page's dry run: the stored rule is shown the same way; a draft like it is refused.
    assert rule_set_with_draft([stored, fallback], None).explain({}).trace[0].usable is False
    with pytest.raises(RuleValidationError, match="RE2 does not support"):
        rule_set_with_draft([fallback], Rule(name="draft", action="ignore", alertname_pattern="re:(?=x)"))


def test_every_pattern_sees_a_bounded_prefix_of_a_value() -> None:
    inside = "db-" + "x" * (MATCH_VALUE_MAX - 10) + "-prod"
    past = "db-" + "x" * MATCH_VALUE_MAX + "-prod"
    assert len(inside) <= MATCH_VALUE_MAX < len(past)
    for pattern in ("*db*prod*", "*-prod", "re:db.*prod", "re:.*-prod"):
        assert matches(pattern, inside), pattern
        assert not matches(pattern, past), pattern  # "-prod" is past what a pattern sees
    for pattern in ("db-*", "re:db-x+", "re:db-x{10}.*"):
        assert matches(pattern, past), pattern


def test_huge_values_are_decided_at_once() -> None:
    rules = RuleSet([rule("prefix", action="auto_analyze", job_pattern="re:x{10}.*", priority=1)])
    started = time.perf_counter()
    assert rules.decide({"job": "x" * 10_000_000}).action == "auto_analyze"
    assert rules.decide({"job": "y" * 10_000_000}).action == "manual"
    assert time.perf_counter() - started < 1
