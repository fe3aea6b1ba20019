"""Reordering, editing limits and the dry run's helpers (no database)."""

from __future__ import annotations

import json

import pytest

from remediation_app.models import Rule
from remediation_app.services.rules.admin import check_rule, plan_move, rule_set_with_draft
from remediation_app.services.rules.dry_run import (
    PayloadError,
    alerts_from_payload,
    label_lines,
    parse_label_lines,
)
from remediation_app.services.rules.engine import RuleValidationError
from tests.support.payloads import am_alert, notification


def rules(*priorities: int) -> list[Rule]:
    return [Rule(id=n + 1, name=f"r{n + 1}", priority=p, action="manual") for n, p in enumerate(priorities)]


def order_after(stored: list[Rule], change: dict[int, int]) -> list[int]:
    return [r.id for r in sorted(stored, key=lambda r: (change.get(r.id, r.priority), r.id))]


@pytest.mark.parametrize(
    ("priorities", "rule_id", "offset", "expected_order"),
    [
        ((10, 20, 30), 3, -1, [1, 3, 2]),  # distinct: a swap
        ((10, 20, 30), 1, 1, [2, 1, 3]),
        ((10, 20, 20), 3, -1, [1, 3, 2]),  # a tie: step past the neighbour
        ((10, 10, 10), 2, 1, [1, 3, 2]),
        ((0, 0, 0), 2, -1, [2, 1, 3]),  # no room below 0: renumbered
    ],
)
def test_a_move_changes_only_the_order_of_two_neighbours(priorities, rule_id, offset, expected_order):
    stored = rules(*priorities)
    change = plan_move(stored, rule_id, offset)
    assert change and order_after(stored, change) == expected_order


def test_a_move_past_either_end_or_of_an_unknown_rule_is_nothing():
    stored = rules(10, 20)
    assert plan_move(stored, 1, -1) == {} and plan_move(stored, 2, 1) == {} and plan_move(stored, 9, 1) == {}


@pytest.mark.parametrize(
    ("rule", "field"),
    [
        (Rule(name="", action="manual"), "name"),
        (Rule(name=" padded", action="manual"), "name"),
        (Rule(name="line\nbreak", action="manual"), "name"),
        (Rule(name="x" * 256, action="manual"), "name"),
        (Rule(name="r", action="page"), "action"),
        (Rule(name="r", action="manual", priority=-1), "priority"),
        (Rule(name="r", action="manual", priority=1_000_001), "priority"),
        (Rule(name="r", action="manual", description="d" * 4097), "description"),
        (Rule(name="r", action="manual", alertname_pattern="re:("), "alertname_pattern"),
        (Rule(name="r", action="manual", job_pattern="x" * 1025), "job_pattern"),
        (Rule(name="r", action="manual", label_patterns={f"l{i}": "x" for i in range(33)}), "label_patterns"),
    ],
)
def test_editing_limits_name_the_field(rule, field):
    with pytest.raises(RuleValidationError) as refused:
        check_rule(rule)
    assert refused.value.field == field


def test_a_draft_replaces_the_rule_it_edits_and_a_new_one_comes_last_of_its_priority():
    stored = [
        Rule(id=1, name="a", priority=10, alertname_pattern="Disk*", action="ignore"),
        Rule(id=2, name="b", priority=20, action="manual"),
    ]
    edited = Rule(id=1, name="a (draft)", priority=10, alertname_pattern="Other", action="ignore")
    assert rule_set_with_draft(stored, edited).decide({"alertname": "DiskFull"}).rule_name == "b"
    new = Rule(name="c (draft)", priority=20, action="auto_analyze")
    assert rule_set_with_draft(stored, new).decide({"alertname": "x"}).rule_name == "b"


def test_label_lines_round_trip_and_refusals():
    patterns = {"team": "re:(db|pg)", "env": "prod=1"}
    assert parse_label_lines(label_lines(patterns)) == patterns
    assert parse_label_lines("\n  team = storage \n\n") == {"team": "storage"}
    for text, message in (("no-equals", "line 1: expected"), ("a=1\na=2", "line 2: label 'a' appears twice")):
        with pytest.raises(RuleValidationError, match=message):
            parse_label_lines(text)


def test_pasted_notifications_are_read_like_the_webhook_reads_them():
    alerts = alerts_from_payload(json.dumps(notification(am_alert("DiskFull", instance="db-1"), am_alert("X"))))
    assert [what for what, _labels in alerts] == ["DiskFull db-1", "X web-1:9100"]
    for text, message in (
        ("", "Paste"),
        ("{", "Not JSON"),
        ('{"alerts": [{"status": "firing"}]}', "alerts.0.labels: Field required"),
        ('{"alerts": []}', "no alerts"),
        ("[" * 300_000 + "]" * 300_000, "larger than"),
        ("[" * 50_000 + "]" * 50_000, "nested too deeply"),
    ):
        with pytest.raises(PayloadError, match=message):
            alerts_from_payload(text)
