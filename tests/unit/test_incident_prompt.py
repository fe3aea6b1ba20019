"""A group analysis' data (storm control) stays bounded whatever its alerts carry, and stays valid JSON
inside its quoted block (never cut mid-way by the prompt's own limit)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from remediation_app.models import Alert
from remediation_app.services.llm.incident_prompt import (
    DATA_BUDGET,
    LABELS_MAX,
    SUMMARY_MAX,
    VALUE_MAX,
    _within_budget,
    alert_brief,
)
from remediation_app.services.llm.prompts import GROUP_DATA_MAX, quote_json

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def alert(i: int, *, label_size: int, labels: int = 100, summary: int = 10_000) -> Alert:
    labels_ = {"alertname": "NodeDown", **{f"label{n:03d}": "v" * label_size for n in range(labels)}}
    return Alert(
        id=i,
        fingerprint=f"f{i}",
        starts_at=NOW,
        status="firing",
        alertname="NodeDown",
        severity="critical",
        instance=f"host-{i}",
        job="node",
        summary="s" * summary,
        labels=labels_,
        annotations={},
        action="auto_analyze",
        first_received_at=NOW,
        last_received_at=NOW,
    )


def test_briefs_are_bounded_and_the_block_is_never_cut():
    brief = alert_brief(alert(1, label_size=100_000))
    assert len(brief["labels"]) == LABELS_MAX and "alertname" not in brief["labels"]
    assert all(len(v) <= VALUE_MAX + 1 for v in brief["labels"].values()) and len(brief["summary"]) <= SUMMARY_MAX + 1
    for size in (10, 1_000, 100_000):
        briefs = _within_budget([alert_brief(alert(i, label_size=size)) for i in range(50)])
        assert briefs and len(json.dumps(briefs, ensure_ascii=False)) <= DATA_BUDGET
        data = {"title": "t", "alerts": briefs, "alerts_not_listed": 50 - len(briefs)}
        block = quote_json(data, "incident-data", "n", GROUP_DATA_MAX)
        body = block.split("```json\n", 1)[1].rsplit("\n```", 1)[0]
        assert json.loads(body)["alerts_not_listed"] == 50 - len(briefs)  # whole JSON: not cut at DATA_MAX
        assert len(body) <= GROUP_DATA_MAX
    # Alerts of a usual size (a few labels, a short summary): all 50 are listed.
    usual = [alert_brief(alert(i, label_size=12, labels=3, summary=60)) for i in range(50)]
    assert len(_within_budget(usual)) == 50
