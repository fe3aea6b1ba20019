"""The rules engine (services/rules.py): patterns, order, explanations, validation."""

from __future__ import annotations

import itertools
import time

import pytest

from remediation_app.models import Rule
from remediation_app.services.rules import (
    MAX_PATTERN,
    RuleSet,
    RuleValidationError,
    compile_pattern,
    needs_time_limit,
    validate_rule,
)

_ids = itertools.count(1)


def rule(name: str | None = None, *, action: str = "ignore", **fields: object) -> Rule:
    rule_id = fields.pop("id", None) or next(_ids)
    return Rule(id=rule_id, name=name or f"rule-{rule_id}", action=action, **fields)


def matches(pattern: str, value: str) -> bool:
    compiled = compile_pattern(pattern)
    return compiled is None or compiled.fullmatch(value) is not None


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


def test_a_catastrophic_pattern_runs_out_of_time_instead_of_stalling_ingest() -> None:
    # (a|aa)+ is exponential on a long run of "a" that does not end the way it wants; saving refuses
    # only the nested-quantifier shape, so this one is stopped by the time limit per match.
    rules = RuleSet([rule("slow", action="auto_analyze", alertname_pattern="re:(a|aa)+$", priority=1)])
    started = time.perf_counter()
    decision = rules.explain({"alertname": "a" * 3000 + "b"})
    assert time.perf_counter() - started < 2
    assert decision.action == "manual" and "took too long" in "; ".join(decision.trace[0].reasons)


@pytest.mark.parametrize("pattern", ["re:(a+)+$", r"re:(\w+\s?)*x", "re:(x{1,3})+"])
def test_nested_quantifiers_are_refused_when_saved(pattern: str) -> None:
    with pytest.raises(RuleValidationError) as refused:
        validate_rule(rule("nested", alertname_pattern=pattern))
    assert refused.value.field == "alertname_pattern" and "exponential" in str(refused.value)


def test_regex_sees_a_bounded_prefix_of_huge_values() -> None:
    rules = RuleSet([rule("prefix", action="auto_analyze", job_pattern="re:x{10}.*", priority=1)])
    assert rules.decide({"job": "x" * 10_000_000}).action == "auto_analyze"


def test_many_star_wildcards_are_time_limited_too() -> None:
    rules = RuleSet([rule("stars", action="auto_analyze", instance_pattern="*a*a*a*a*a*b", priority=1)])
    started = time.perf_counter()
    assert rules.decide({"instance": "a" * 5000}).action == "manual"
    assert time.perf_counter() - started < 2


@pytest.mark.parametrize(
    ("pattern", "limited"), [("web-*", False), ("DiskFull", False), ("*-db-*", True), ("re:web-[0-9]+", True)]
)
def test_only_patterns_that_can_backtrack_pay_for_the_time_limit(pattern: str, limited: bool) -> None:
    assert needs_time_limit(pattern) is limited
