"""Role decisions for the rules page's handlers (AdminRulesState), registered into
test_reflex_handlers_roles.DECISIONS (that module imports this one).

Each handler is called as anonymous, user and admin: the first two are refused (sent to log in,
or to the dashboard with a notice), the tab forgets whatever it held, and no rule or audit event
changes; the admin's call does what it says.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable
from typing import Any

from sqlmodel import col, func, select

from remediation_app.db import async_session
from remediation_app.models import AuditEvent, Rule
from remediation_app.services.rules.io import dump_rules
from tests.support.payloads import am_alert, notification
from tests.unit.test_reflex_handlers_roles import (
    DECISIONS,
    ROLES,
    World,
    _setvar,
    _state_cls,
    call,
    decides,
    expect_refused,
    redirect_of,
)

STATE = "AdminRulesState"


def shows_anything(page: Any) -> bool:
    return bool(
        page.rules
        or page.recent
        or page.editing
        or page.draft_id
        or page.test_results
        or page.test_trace
        or page.yaml_text
        or page.delete_id
        or page.import_open
        or page._traces
    )


DECISIONS[(STATE, "setvar")] = functools.partial(_setvar, cls_name=STATE, protected=shows_anything)


async def snapshot() -> dict[str, Any]:
    async with async_session() as session:
        rules = (await session.exec(select(Rule).order_by(col(Rule.id)))).all()
        events = (await session.exec(select(func.count()).select_from(AuditEvent))).one()
    return {"rules": [r.model_dump() for r in rules], "audit": events}


async def rule_id(name: str) -> int:
    async with async_session() as session:
        found = (await session.exec(select(Rule.id).where(col(Rule.name) == name))).first()
    assert found is not None
    return int(found)


async def last_event() -> AuditEvent:
    async with async_session() as session:
        event = (await session.exec(select(AuditEvent).order_by(col(AuditEvent.id).desc()))).first()
    assert event is not None
    return event


async def as_each_role(
    w: World,
    name: str,
    args: list[Any],
    admin_sees: Callable[[Any, Any], Awaitable[None]],
    prepare: Callable[[Any], None] = lambda page: None,
) -> None:
    before = await snapshot()
    for role in ROLES:
        page = w.state(_state_cls(STATE), role, path="/admin/rules")
        prepare(page)
        result = await call(page, name, *args)
        if role == "admin":
            assert redirect_of(result) is None, result
            await admin_sees(page, result)
        else:
            expect_refused(result, role)
            assert not shows_anything(page), (name, role)
            assert await snapshot() == before, (name, role)


def _editing(page: Any) -> None:
    page.editing = True
    page.draft = {**page.draft, "name": "roles-rule", "alertname": "Roles*", "action": "ignore", "priority": "500"}


@decides((STATE, "load"), (STATE, "refresh"))
async def _load(w: World, name: str) -> None:
    async def shown(page: Any, _result: Any) -> None:
        assert [r["name"] for r in page.rules] == ["Watchdog", "InfoInhibitor", "Critical", "Catch-all"]
        assert page.rules[3]["hits"] == "1"  # the world's alert
        assert page.recent[0]["id"] == str(w.alert_id)

    await as_each_role(w, name, [], shown)


@decides((STATE, "new_rule"), (STATE, "edit_rule"), (STATE, "cancel_edit"))
async def _editor(w: World, name: str) -> None:
    args = {"edit_rule": [str(await rule_id("Critical"))]}.get(name, [])

    async def opened(page: Any, _result: Any) -> None:
        assert page.editing is (name != "cancel_edit")
        if name == "edit_rule":
            assert (page.draft["name"], page.draft["severity"]) == ("Critical", "critical")

    await as_each_role(w, name, args, opened, prepare=_editing if name == "cancel_edit" else lambda p: None)


@decides((STATE, "set_draft_field"), (STATE, "toggle_draft_enabled"))
async def _draft_setters(w: World, name: str) -> None:
    args = ["name", "typed"] if name == "set_draft_field" else [False]

    async def typed(page: Any, _result: Any) -> None:
        assert page.draft["name"] == "typed" if name == "set_draft_field" else page.draft_enabled is False

    await as_each_role(w, name, args, typed, prepare=_editing)


@decides((STATE, "save_draft"))
async def _save(w: World, name: str) -> None:
    async def saved(page: Any, _result: Any) -> None:
        assert page.notice == "Saved rule roles-rule." and not page.editing
        event = await last_event()
        assert (event.action, event.actor, event.target, event.address) == (
            "rule.create",
            "roles-admin",
            "roles-rule",
            "198.51.100.7",
        )

    await as_each_role(w, name, [], saved, prepare=_editing)


@decides((STATE, "set_enabled"), (STATE, "move"))
async def _list_changes(w: World, name: str) -> None:
    target = await rule_id("InfoInhibitor")
    args = [str(target), False] if name == "set_enabled" else [str(target), -1]

    async def changed(page: Any, _result: Any) -> None:
        async with async_session() as session:
            rule = await session.get(Rule, target)
        assert rule is not None
        assert (rule.enabled is False) if name == "set_enabled" else (rule.priority == 10)
        assert (await last_event()).action == "rule.update"

    await as_each_role(w, name, args, changed)


@decides((STATE, "ask_delete"), (STATE, "close_delete"), (STATE, "confirm_delete"))
async def _delete(w: World, name: str) -> None:
    target = await rule_id("Watchdog")

    def prepare(page: Any) -> None:
        page.rules = [{"id": str(target), "name": "Watchdog"}]
        if name != "ask_delete":
            page.delete_open, page.delete_id, page.delete_name = True, str(target), "Watchdog"

    async def done(page: Any, _result: Any) -> None:
        assert page.delete_open is (name == "ask_delete")
        if name == "confirm_delete":
            async with async_session() as session:
                assert await session.get(Rule, target) is None
            assert (await last_event()).action == "rule.delete"

    await as_each_role(
        w, name, [False] if name == "close_delete" else [str(target)] * (name == "ask_delete"), done, prepare
    )


@decides((STATE, "pick_test_alert"), (STATE, "type_test_payload"), (STATE, "select_result"))
async def _test_setters(w: World, name: str) -> None:
    def prepare(page: Any) -> None:
        page._traces = [[{"rule": "a"}], [{"rule": "b"}]]

    async def set_(page: Any, _result: Any) -> None:
        if name == "select_result":
            assert page.test_trace == [{"rule": "b"}]
        else:
            assert (page.test_alert_id if name == "pick_test_alert" else page.test_payload) == "7"

    await as_each_role(w, name, [1] if name == "select_result" else ["7"], set_, prepare)


@decides((STATE, "test_stored"), (STATE, "test_pasted"))
async def _dry_run(w: World, name: str) -> None:
    def prepare(page: Any) -> None:
        _editing(page)
        page.draft = {**page.draft, "alertname": "RolesCheck*"}
        page.test_alert_id = str(w.alert_id)
        page.test_payload = json.dumps(notification(am_alert("RolesCheckPasted")))

    async def explained(page: Any, _result: Any) -> None:
        assert page.test_error == "", page.test_error
        assert page.test_results[0]["rule"] == "roles-rule (draft)"
        assert page.test_trace[-1]["verdict"] == "match"

    await as_each_role(w, name, [], explained, prepare)


YAML = dump_rules([Rule(name="only-rule", priority=1, action="ignore")])


@decides(
    (STATE, "type_yaml"),
    (STATE, "load_yaml"),
    (STATE, "download_yaml"),
    (STATE, "validate_yaml"),
    (STATE, "ask_import"),
    (STATE, "close_import"),
    (STATE, "confirm_import"),
)
async def _yaml(w: World, name: str) -> None:
    def prepare(page: Any) -> None:
        page.yaml_text = YAML
        page.import_open = name == "close_import"

    async def done(page: Any, result: Any) -> None:
        if name == "type_yaml":
            assert page.yaml_text == "version: 1"
        elif name == "load_yaml":
            assert "name: Watchdog" in page.yaml_text
        elif name == "download_yaml":
            assert result is not None and "data:application/yaml" in str(result)
        elif name in ("validate_yaml", "ask_import"):
            assert "1 created" in page.yaml_plan and page.import_open is (name == "ask_import")
        elif name == "close_import":
            assert page.import_open is False
        else:
            async with async_session() as session:
                assert [r.name for r in (await session.exec(select(Rule))).all()] == ["only-rule"]
            assert (await last_event()).action == "rules.import"

    args = {"type_yaml": ["version: 1"], "close_import": [False]}.get(name, [])
    await as_each_role(w, name, args, done, prepare)
