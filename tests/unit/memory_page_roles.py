"""Role decisions for incident memory (OutcomeState and SimilarState on the alert and incident pages,
ReliabilityState on /reliability), registered into test_reflex_handlers_roles.DECISIONS (that module
imports this one).

Any logged-in user records and edits outcomes (the on-call console) and sees the memory and the
figures; an anonymous tab is sent to log in, shown nothing, and stores nothing. The form's setters
only change the tab's own form (bounded), never the database."""

from __future__ import annotations

import functools
from typing import Any

from sqlmodel import col, func, select

from remediation_app.db import async_session
from remediation_app.models import AuditEvent, Incident, IncidentOutcome
from remediation_app.services.memory.outcomes import TEXT_MAX
from tests.unit.test_reflex_handlers_roles import (
    ALERT_NAME,
    DECISIONS,
    ROLES,
    World,
    _setvar,
    _state_cls,
    call,
    db_snapshot,
    decides,
    redirect_of,
)

OUTCOME, SIMILAR, RELIABILITY = "OutcomeState", "SimilarState", "ReliabilityState"


def _outcome_shows(page: Any) -> bool:
    return bool(page.alert or page.choices or page.recorded or page.check or page.sources or page.commands)


DECISIONS[(OUTCOME, "setvar")] = functools.partial(_setvar, cls_name=OUTCOME, protected=_outcome_shows)
DECISIONS[(SIMILAR, "setvar")] = functools.partial(
    _setvar, cls_name=SIMILAR, protected=lambda s: bool(s.rows or s.seen or s.last_fix)
)
DECISIONS[(RELIABILITY, "setvar")] = functools.partial(
    _setvar, cls_name=RELIABILITY, protected=lambda s: bool(s.total or s.by_rule or s.by_alertname or s.by_provider)
)


def alert_tab(w: World, role: str) -> Any:
    return w.state(_state_cls(OUTCOME), role, path=f"/alerts/{w.alert_id}", query={"alert_id": str(w.alert_id)})


async def outcomes_and_events() -> tuple[list[tuple[Any, ...]], int]:
    async with async_session() as session:
        rows = (
            await session.exec(select(IncidentOutcome.alert_id, IncidentOutcome.verdict, IncidentOutcome.edits))
        ).all()
        events = (
            await session.exec(
                select(func.count()).select_from(AuditEvent).where(col(AuditEvent.action).like("outcome.%"))
            )
        ).one()
    return [tuple(r) for r in rows], int(events)


@decides((OUTCOME, "watch"))
async def _outcome_watch(w: World, _name: str) -> None:
    for role in ROLES:
        page = alert_tab(w, role)
        await call(page, "watch")
        similar = await page.get_state(_state_cls(SIMILAR))
        if role == "anonymous":
            assert not _outcome_shows(page) and not similar.rows
        else:
            assert page.alert == str(w.alert_id) and not page.has_outcome and page.choices == []
            assert similar.seen == 0 and page.error == ""
    # On an incident's page: its alerts to choose from.
    async with async_session() as session:
        incident_id = (await session.exec(select(Incident.id))).first()
    for role in ROLES:
        page = w.state(
            _state_cls(OUTCOME), role, path=f"/incidents/{incident_id}", query={"incident_id": str(incident_id)}
        )
        await call(page, "watch")
        if role == "anonymous":
            assert not _outcome_shows(page)
        else:
            assert page.alert == str(w.alert_id) and [c[0] for c in page.choices] == [str(w.alert_id)]
            assert ALERT_NAME in page.choices[0][1]


@decides(
    (OUTCOME, "set_verdict"),
    (OUTCOME, "set_root_cause"),
    (OUTCOME, "set_fix"),
    (OUTCOME, "set_commands"),
    (OUTCOME, "set_tags"),
    (OUTCOME, "start_edit"),
    (OUTCOME, "cancel_edit"),
)
async def _outcome_form(w: World, name: str) -> None:
    """The tab's own form only: bounded, nothing loaded or stored; start_edit without an outcome does nothing."""
    before = await db_snapshot()
    field = {"set_root_cause": "root_cause", "set_fix": "fix", "set_commands": "commands", "set_tags": "tags"}
    for role in ROLES:
        page = alert_tab(w, role)
        if name == "set_verdict":
            await call(page, name, "right")
            await call(page, name, "<script>")
            assert page.verdict == "right"
        elif name in field:
            await call(page, name, "x" * (TEXT_MAX * 200))
            assert 0 < len(getattr(page, field[name])) <= TEXT_MAX * 101
        else:
            await call(page, name)
            assert not page.editing
        assert not page.recorded and not page.alert
    assert await db_snapshot() == before


@decides((OUTCOME, "prefill"), (OUTCOME, "choose"))
async def _outcome_prefill_and_choose(w: World, name: str) -> None:
    for role in ROLES:
        page = alert_tab(w, role)
        page._shown_alert, page.choices = w.alert_id, [[str(w.alert_id), ALERT_NAME]]
        args = [] if name == "prefill" else [str(w.alert_id)]
        result = await call(page, name, *args)
        if role == "anonymous":
            assert redirect_of(result) == f"/login?next=/alerts/{w.alert_id}"
            assert not _outcome_shows(page)
        elif name == "prefill":
            assert page.notice == "Prefilled 0 commands from what happened to the alert." and page.commands == ""
        else:
            assert page._chosen == w.alert_id and result is _state_cls(OUTCOME).event_handlers["watch"]
            assert await call(page, name, "999999") is None and page._chosen == w.alert_id  # not one of its alerts


@decides((OUTCOME, "save"))
async def _outcome_save(w: World, _name: str) -> None:
    for role in ROLES:
        page = alert_tab(w, role)
        page._shown_alert, page.alert = w.alert_id, str(w.alert_id)
        page.verdict, page.fix, page.commands = ("right" if role == "user" else "partly"), f"fixed by {role}", "uptime"
        result = await call(page, "save")
        stored, events = await outcomes_and_events()
        if role == "anonymous":
            assert redirect_of(result) == f"/login?next=/alerts/{w.alert_id}" and stored == [] and events == 0
        elif role == "user":
            assert page.notice == "Outcome recorded." and stored == [(w.alert_id, "right", 0)] and events == 1
            assert page.has_outcome and page.recorded["created_by"] == "roles-user"
        else:
            assert page.notice == "Outcome saved." and stored == [(w.alert_id, "partly", 1)] and events == 2
    # No verdict: refused with a message, the typed text kept.
    page = alert_tab(w, "user")
    page._shown_alert, page.fix = w.alert_id, "kept"
    await call(page, "save")
    assert page.error == "Choose whether the analysis was right." and page.fix == "kept"
    assert (await outcomes_and_events())[1] == 2


@decides((RELIABILITY, "load"))
async def _reliability(w: World, _name: str) -> None:
    for role in ROLES:
        page = w.state(_state_cls(RELIABILITY), role, path="/reliability")
        result = await call(page, "load")
        if role == "anonymous":
            assert redirect_of(result) == "/login?next=/reliability" and not page.total
        else:
            assert result is None and page.total["outcomes"] == 0 and page.by_rule == []
