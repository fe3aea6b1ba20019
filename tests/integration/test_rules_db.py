"""Rules stored in the database: the seeded defaults, save/delete, and the compiled rule set's cache."""

from __future__ import annotations

import pytest

from remediation_app.db import async_session
from remediation_app.models import Rule
from remediation_app.services.rules.engine import (
    RuleValidationError,
    current_rule_set,
    delete_rule,
    explain,
    list_rules,
    save_rule,
)
from tests.support.payloads import am_alert, notification

pytestmark = pytest.mark.anyio


async def version(db) -> int:
    return int(db.scalar("SELECT version FROM rule_set_version WHERE id = 1"))


async def test_seeded_rules(app_settings):
    async with async_session() as session:
        rules = await list_rules(session)
    assert [(r.name, r.priority, r.action) for r in rules] == [
        ("Watchdog", 10, "ignore"),
        ("InfoInhibitor", 20, "ignore"),
        ("Critical", 100, "auto_analyze"),
        ("Catch-all", 10000, "manual"),
    ]


async def test_a_saved_rule_changes_the_next_ingest_without_a_restart(post_webhook, db):
    r = await post_webhook(notification(am_alert("NoisyThing")))
    assert r.json()["by_action"] == {"manual": 1}

    async with async_session() as session:
        saved = await save_rule(
            session, Rule(name="mute noisy", priority=50, alertname_pattern="noisy*", action="ignore")
        )
        await session.commit()
    r = await post_webhook(notification(am_alert("NoisyThing")))
    assert r.json()["by_action"] == {"ignore": 1}
    row = db.alerts()[-1]
    assert (row["matched_rule_id"], row["matched_rule_name"]) == (saved.id, "mute noisy")
    assert "alertname 'NoisyThing' matches 'noisy*'" in row["match_reason"]

    async with async_session() as session:
        saved.action = "auto_analyze"
        await save_rule(session, saved)
        await session.commit()
    r = await post_webhook(notification(am_alert("NoisyThing")))
    assert r.json()["by_action"] == {"auto_analyze": 1}

    async with async_session() as session:
        assert await delete_rule(session, saved.id)
        await session.commit()
    r = await post_webhook(notification(am_alert("NoisyThing")))
    assert r.json()["by_action"] == {"manual": 1}
    # What an alert was decided by stays as it was.
    assert [row["action"] for row in db.alerts()] == ["manual", "ignore", "auto_analyze", "manual"]


async def test_rule_set_is_cached_until_the_version_changes(app_settings, db):
    async with async_session() as session:
        first = await current_rule_set(session)
    async with async_session() as session:
        assert await current_rule_set(session) is first  # not recompiled

    # A rule written behind the engine's back (no version bump) is not seen: proof of the cache.
    db.execute(
        "INSERT INTO rules (name, description, enabled, priority, alertname_pattern, severity_pattern,"
        " instance_pattern, job_pattern, label_patterns, action, created_at, updated_at)"
        " VALUES ('sneaky', '', :t, 1, '', '', '', '', '{}', 'ignore', :now, :now)",
        t=True,
        now="2026-01-01 00:00:00",
    )
    async with async_session() as session:
        assert await current_rule_set(session) is first
        assert (await explain(session, {"alertname": "X"})).rule_name == "Catch-all"

    before = await version(db)
    async with async_session() as session:
        await save_rule(session, Rule(name="new", priority=20000, action="manual"))
        await session.commit()
    assert await version(db) == before + 1
    async with async_session() as session:
        second = await current_rule_set(session)
        assert second is not first
        assert (await explain(session, {"alertname": "X"})).rule_name == "sneaky"

    sneaky_id = db.scalar("SELECT id FROM rules WHERE name = 'sneaky'")
    async with async_session() as session:
        assert await delete_rule(session, sneaky_id)
        await session.commit()
    assert await version(db) == before + 2
    async with async_session() as session:
        assert await current_rule_set(session) is not second
        assert (await explain(session, {"alertname": "X"})).rule_name == "Catch-all"
        assert not await delete_rule(session, sneaky_id)  # already gone


async def test_an_invalid_rule_is_not_saved(app_settings, db):
    before = (await version(db), db.count("rules"))
    async with async_session() as session:
        with pytest.raises(RuleValidationError) as exc:
            await save_rule(session, Rule(name="bad", alertname_pattern="re:[", action="ignore"))
        await session.commit()
    assert exc.value.field == "alertname_pattern"
    assert (await version(db), db.count("rules")) == before


@pytest.mark.parametrize(
    ("fields", "field_name"),
    [
        ({"name": "nul\x00name"}, "name"),
        ({"description": "\x00"}, "description"),
        ({"instance_pattern": "web-\x00*"}, "instance_pattern"),
        ({"label_patterns": {"team": "a\x00"}}, "label_patterns.team"),
    ],
)
async def test_text_that_cannot_be_stored_is_refused_by_validation(app_settings, db, fields, field_name):
    """PostgreSQL refuses NUL characters: that must be a validation error naming the field, not a 500."""
    before = (await version(db), db.count("rules"))
    async with async_session() as session:
        with pytest.raises(RuleValidationError) as exc:
            await save_rule(session, Rule(**{"name": "r", "action": "ignore", **fields}))
    assert exc.value.field == field_name and "NUL" in exc.value.message
    assert (await version(db), db.count("rules")) == before


async def test_explain_from_the_database(app_settings):
    async with async_session() as session:
        decision = await explain(session, {"alertname": "Watchdog"})
    assert decision.action == "ignore" and decision.rule_name == "Watchdog"
    assert [t.rule for t in decision.trace] == ["Watchdog"]
    async with async_session() as session:
        decision = await explain(session, {"alertname": "Disk", "severity": "warning"})
    assert [t.rule for t in decision.trace] == ["Watchdog", "InfoInhibitor", "Critical", "Catch-all"]
    assert decision.trace[2].reasons == ["severity 'warning' does not match 'critical'"]
    assert decision.action == "manual" and decision.rule_name == "Catch-all"


async def test_rule_changes_are_audited(app_settings):
    from remediation_app.db import async_session
    from remediation_app.services.audit import AuditFilter, list_events

    async with async_session() as session:
        rule = await save_rule(
            session, Rule(name="audited", alertname_pattern="Disk*", action="ignore"), actor="alice", address="10.0.0.7"
        )
        await session.commit()
        rule.action = "manual"
        await save_rule(session, rule, actor="alice")
        await session.commit()
        assert await delete_rule(session, rule.id, actor="bob")
        await session.commit()
        events, _total = await list_events(session, AuditFilter())
    actions = [(e.action, e.actor, e.target) for e in reversed(events)]
    assert actions == [
        ("rule.create", "alice", "audited"),
        ("rule.update", "alice", "audited"),
        ("rule.delete", "bob", "audited"),
    ]
    assert events[-1].address == "10.0.0.7" and events[-1].details["alertname_pattern"] == "Disk*"
    assert events[1].details["action"] == "manual"
