"""Rules as YAML, on SQLite and PostgreSQL: export -> import into an empty database -> the same
document; invalid documents refused naming the rule and the field; hostile YAML refused safely;
an import replaces the rule set in one transaction, audited once, version bumped once."""

from __future__ import annotations

import time

import pytest
import yaml

from remediation_app.db import async_session, dispose_engines, sync_engine
from remediation_app.models import Rule
from remediation_app.services import migrations
from remediation_app.services.rules.engine import current_rule_set, list_rules, save_rule
from remediation_app.services.rules.io import (
    MAX_DOCUMENT_BYTES,
    dump_rules,
    export_rules,
    import_rules,
    parse_rules,
    plan_import,
)
from remediation_app.settings import async_database_url
from tests.support.payloads import am_alert, notification

pytestmark = pytest.mark.anyio


def extra_rules() -> list[Rule]:
    """Fresh (unsaved) rules with every feature: descriptions over lines, regexes, labels, unicode."""
    return [
        Rule(
            name="disk-full",
            description="Disks fill up slowly.\nA human decides; see the runbook.",
            priority=50,
            alertname_pattern="DiskFull*",
            instance_pattern="re:(db|pg)-[0-9]+.*",
            label_patterns={"team": "storage", "env": "re:prod|staging"},
            action="manual",
        ),
        Rule(name="Nächtlich ruhig ✓", priority=5, job_pattern="batch-?", action="ignore", enabled=False),
        Rule(name="same-priority", priority=50, severity_pattern="warning", action="auto_analyze"),
        Rule(name="quotes: 'and' \"more\" # not a comment", priority=7000, alertname_pattern="*:*", action="manual"),
    ]


LABEL_SETS = [
    {"alertname": "DiskFull", "instance": "db-1:9100", "team": "storage", "env": "prod"},
    {"alertname": "DiskFullSoon", "instance": "web-1", "severity": "warning"},
    {"alertname": "Watchdog"},
    {"alertname": "x", "severity": "critical"},
    {"alertname": "a:b", "job": "batch-1"},
]


async def _save(rules: list[Rule]) -> None:
    async with async_session() as session:
        for rule in rules:
            await save_rule(session, rule, actor="test")
        await session.commit()


async def _decisions(url: str | None = None) -> list[tuple[str, str]]:
    async with async_session(url) as session:
        rule_set = await current_rule_set(session)
    return [(d.action, d.rule_name) for d in map(rule_set.decide, LABEL_SETS)]


async def test_export_import_into_an_empty_database_gives_the_same_document(app_settings, blank_database_url, db):
    await _save(extra_rules())
    async with async_session() as session:
        document = await export_rules(session)
    data = yaml.safe_load(document)
    assert [r["name"] for r in data["rules"]][:3] == ["Nächtlich ruhig ✓", "Watchdog", "InfoInhibitor"]
    assert data["rules"][3]["name"] == "disk-full"  # priority 50: "disk-full" before "same-priority"
    assert set(data["rules"][3]) == {"name", "description", "enabled", "priority", "match", "labels", "action"}
    assert data["rules"][3]["match"] == {
        "alertname": "DiskFull*",
        "severity": "",
        "instance": "re:(db|pg)-[0-9]+.*",
        "job": "",
    }

    migrations.upgrade(blank_database_url)
    sync_engine(blank_database_url).dispose()
    target = async_database_url(blank_database_url)
    async with async_session(target) as session:
        for rule in await list_rules(session):
            await session.delete(rule)
        await session.commit()
        assert await list_rules(session) == []
    try:
        parsed = parse_rules(document)
        assert parsed.ok, parsed.errors
        async with async_session(target) as session:
            plan = await import_rules(session, parsed.rules, actor="test")
            await session.commit()
        assert plan.counts() == {"created": 8, "updated": 0, "unchanged": 0, "deleted": 0}
        async with async_session(target) as session:
            assert await export_rules(session) == document
        assert await _decisions(target) == await _decisions()
    finally:
        await dispose_engines()


async def test_import_replaces_the_rule_set_audited_once_version_bumped_once(app_settings, db):
    version_before = db.scalar("SELECT version FROM rule_set_version WHERE id = 1")
    catch_all_id = db.scalar("SELECT id FROM rules WHERE name = 'Catch-all'")
    document = """
version: 1
rules:
  - name: Catch-all
    priority: 10000
    action: ignore
  - name: disk-full
    priority: 50
    match: {alertname: "DiskFull*"}
    labels: {team: storage}
    action: manual
  - name: Critical
    description: Critical alerts are analysed as soon as they arrive.
    priority: 100
    match: {severity: critical}
    action: auto_analyze
"""
    parsed = parse_rules(document)
    assert parsed.ok, parsed.errors
    async with async_session() as session:
        plan = await plan_import(session, parsed.rules)
    assert (plan.created, plan.updated, plan.unchanged) == (["disk-full"], ["Catch-all"], ["Critical"])
    assert sorted(plan.deleted) == ["InfoInhibitor", "Watchdog"]
    assert db.scalar("SELECT count(*) FROM rules") == 4  # the plan changed nothing

    async with async_session() as session:
        await import_rules(session, parsed.rules, actor="tester", address="10.0.0.1")
        await session.commit()

    rows = db.rows("SELECT id, name, priority, action, label_patterns FROM rules ORDER BY priority")
    assert [(r["name"], r["priority"], r["action"]) for r in rows] == [
        ("disk-full", 50, "manual"),
        ("Critical", 100, "auto_analyze"),
        ("Catch-all", 10000, "ignore"),
    ]
    assert rows[2]["id"] == catch_all_id  # updated in place: keeps its id, so its hit counter
    assert db.scalar("SELECT version FROM rule_set_version WHERE id = 1") == version_before + 1
    events = db.rows("SELECT actor, action, address, details FROM audit_events WHERE action LIKE 'rule%'")
    assert len(events) == 1
    assert (events[0]["actor"], events[0]["action"], events[0]["address"]) == ("tester", "rules.import", "10.0.0.1")
    details = events[0]["details"]
    details = yaml.safe_load(details) if isinstance(details, str) else details
    assert {k: details[k] for k in ("created", "updated", "unchanged", "deleted")} == {
        "created": 1,
        "updated": 1,
        "unchanged": 1,
        "deleted": 2,
    }
    assert await _decisions() == [
        ("manual", "disk-full"),
        ("ignore", "Catch-all"),  # DiskFullSoon, but no team=storage label
        ("ignore", "Catch-all"),
        ("auto_analyze", "Critical"),
        ("ignore", "Catch-all"),
    ]


async def test_the_next_alert_after_an_import_gets_the_new_action(post_webhook):
    parsed = parse_rules("version: 1\nrules:\n  - name: all-quiet\n    priority: 1\n    action: ignore\n")
    async with async_session() as session:
        await import_rules(session, parsed.rules, actor="test")
        await session.commit()
    response = await post_webhook(notification(am_alert("AnythingAtAll", severity="critical")))
    assert response.json()["by_action"] == {"ignore": 1}


BAD_DOCUMENT = """
version: 1
rules:
  - name: ok-rule
    action: manual
  - name: disk-full
    priority: 3
    action: page-someone
  - name: bad-regex
    match: {alertname: "re:("}
    action: manual
  - name: ok-rule
    action: ignore
  - name: typo
    action: manual
    priorty: 5
  - name: too-low
    priority: -1
    action: manual
  - name: not-a-number
    priority: high
    action: manual
  - name: bad-label
    labels: {"team-name": x}
    action: manual
  - name: unknown-match
    match: {namespace: x}
    action: manual
  - description: no name at all
    action: manual
  - just a string
  - name: "   "
    action: manual
  - name: number-pattern
    match: {job: 42}
    action: manual
  - name: long-description
    description: "%s"
    action: manual
""" % ("x" * 5000)


def test_invalid_rules_are_refused_naming_the_rule_and_the_field():
    parsed = parse_rules(BAD_DOCUMENT)
    assert not parsed.ok and parsed.rules == []
    assert parsed.errors == [
        'rule "disk-full" (#2): field "action": must be one of auto_analyze, manual, ignore',
        'rule "bad-regex" (#3): field "match.alertname": invalid regular expression \'(\': missing ): (',  # RE2's words
        'rule "ok-rule" (#4): field "name": duplicate of rule #1',
        'rule "typo" (#5): field "priorty": unknown field (allowed: name, description, enabled, priority, match, '
        "labels, action)",
        'rule "too-low" (#6): field "priority": must be between 0 and 1000000',
        'rule "not-a-number" (#7): field "priority": must be a whole number, not str',
        'rule "bad-label" (#8): field "labels.team-name": not a valid Prometheus label name',
        'rule "unknown-match" (#9): field "match.namespace": unknown field (allowed: alertname, severity, '
        "instance, job)",
        'rule #10: field "name": required',
        "rule #11: must be a mapping of fields (name, description, enabled, priority, match, labels, action), not str",
        'rule #12: field "name": must not start or end with whitespace',
        'rule "number-pattern" (#13): field "match.job": must be text, not a number (quote it)',
        'rule "long-description" (#14): field "description": longer than 4096 characters',
    ]


@pytest.mark.parametrize(
    ("document", "error"),
    [
        ("", "the document is empty"),
        ("- name: a\n  action: manual\n", "the document must be a mapping"),
        ("just text", "the document must be a mapping"),
        ("rules: {name: a}", 'field "rules": must be a list'),
        ("version: 1\n", 'field "rules": must be a list of rules (missing)'),
        ("version: 2\nrules: []\n", 'field "version": must be 1'),
        ("version: 1\nrules: []\nextra: 1\n", "unknown top-level field 'extra'"),
        ("rules: [\n", "not valid YAML (line 2, column 1)"),
        ("a: 1\na: 2\nrules: [", "not valid YAML"),
        ("---\nrules: []\n---\nrules: []\n", "not valid YAML"),
        ("rules: []\n? [a, b]\n: c\n", "not valid YAML"),
    ],
)
def test_malformed_documents_are_refused(document, error):
    parsed = parse_rules(document)
    assert not parsed.ok
    assert error in parsed.errors[0], parsed.errors


@pytest.mark.parametrize(
    "tag",
    [
        "!!python/object/apply:os.system ['touch /tmp/pwned-by-rules-yaml']",
        "!!python/object:remediation_app.models.Rule {name: x}",
        "!!python/name:os.system",
        "!!binary aGVsbG8=",
    ],
)
def test_python_tags_are_never_constructed(tag, tmp_path):
    parsed = parse_rules(f"version: 1\nrules:\n  - name: {tag}\n    action: manual\n")
    assert not parsed.ok
    assert parsed.errors[0].startswith(("not valid YAML", 'rule #1: field "name": must be text')), parsed.errors


def test_hostile_documents_are_refused_quickly():
    started = time.monotonic()
    huge = "version: 1\nrules:\n" + "  - {name: r, action: manual}\n" * 40_000
    assert len(huge.encode()) > MAX_DOCUMENT_BYTES
    assert "at most 524288" in parse_rules(huge).errors[0]
    assert "at most 524288" in parse_rules(huge.encode()).errors[0]
    deep = "rules: " + "[" * 50_000 + "]" * 50_000
    assert parse_rules(deep).errors == ["not accepted: the document is nested too deeply"]
    deep_map = "rules:\n" + "".join("  " * i + f"k{i}:\n" for i in range(2000))
    assert not parse_rules(deep_map).ok
    # A billion laughs: aliases are shared references, never expanded, and refused as not text.
    laughs = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
    for n in range(1, 12):
        laughs += f"{'abcdefghijkl'[n]}: &{'abcdefghijkl'[n]} [" + ", ".join([f"*{'abcdefghijkl'[n - 1]}"] * 9) + "]\n"
    laughs += "version: 1\nrules:\n  - name: *l\n    action: manual\n"
    errors = parse_rules(laughs).errors
    assert errors[0].startswith("unknown top-level field 'a'") or 'field "name": must be text' in errors[-1]
    assert parse_rules(b"\xff\xfe not utf-8").errors == ["the document is not UTF-8 text"]
    too_many = "version: 1\nrules:\n" + "".join(f"  - {{name: r{i}, action: manual}}\n" for i in range(1001))
    assert parse_rules(too_many).errors == ['field "rules": 1001 rules; at most 1000 are accepted']
    many_errors = "version: 1\nrules:\n" + "  - {action: manual}\n" * 200
    errors = parse_rules(many_errors).errors
    assert len(errors) == 51 and errors[-1] == "... and 150 more errors"
    assert time.monotonic() - started < 20


def test_same_priority_is_a_warning_not_an_error():
    parsed = parse_rules(
        "version: 1\nrules:\n  - {name: a, priority: 5, action: manual}\n  - {name: b, priority: 5, action: ignore}\n"
    )
    assert parsed.ok
    assert parsed.warnings == [
        'rule "b" (#2) has the same priority (5) as rule "a" (#1): rules of equal priority are tried in the order '
        "they were created"
    ]


def test_defaults_and_a_dump_of_what_was_parsed_is_stable():
    parsed = parse_rules("version: 1\nrules:\n  - name: minimal\n    action: ignore\n    match: {job: }\n")
    assert parsed.ok
    (rule,) = parsed.rules
    assert (rule.enabled, rule.priority, rule.description, rule.job_pattern, rule.label_patterns) == (
        True,
        100,
        "",
        "",
        {},
    )
    document = dump_rules(parsed.rules)
    assert dump_rules(parse_rules(document).rules) == document


async def test_rules_of_equal_priority_keep_their_winner_through_a_round_trip(app_settings, blank_database_url):
    await _save(
        [
            Rule(name="zz-first", priority=60, alertname_pattern="Tie*", action="ignore"),
            Rule(name="aa-second", priority=60, alertname_pattern="Tie*", action="auto_analyze"),
        ]
    )
    labels = {"alertname": "TieBreak"}
    async with async_session() as session:
        before = (await current_rule_set(session)).decide(labels)
        document = await export_rules(session)
    assert before.rule_name == "zz-first"
    migrations.upgrade(blank_database_url)
    sync_engine(blank_database_url).dispose()
    target = async_database_url(blank_database_url)
    try:
        async with async_session(target) as session:
            await import_rules(session, parse_rules(document).rules, actor="test")
            await session.commit()
            assert (await current_rule_set(session)).decide(labels).rule_name == "zz-first"
    finally:
        await dispose_engines()


def test_a_non_text_action_is_refused_naming_the_field():
    parsed = parse_rules("version: 1\nrules:\n  - name: a\n    action: [x]\n  - name: b\n    action: {x: 1}\n")
    assert not parsed.ok and len(parsed.errors) == 2
    assert all('field "action"' in error for error in parsed.errors), parsed.errors
