"""Role decisions for the alert page's on-call parts (AlertSilencesState, AlertRelatedState),
registered into test_reflex_handlers_roles.DECISIONS (that module imports this one).

Any logged-in user may silence, expire and ack (the on-call console): each handler is called as
anonymous (sent to log in, nothing shown, nothing made in Alertmanager or the database), as the user
and as the admin, against a real Alertmanager (Debian's prometheus-alertmanager, ALERTMANAGER_URL).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import httpx
from sqlmodel import col, select

from remediation_app.db import async_session
from remediation_app.models import Alert, Silence
from remediation_app.pages.alerts.silence_state import VALUE_MAX, MatcherRow, SilenceRow
from tests.conftest import require_tool
from tests.support.prometheus import Alertmanager, alertmanager_config, webhook_receiver
from tests.support.settings_env import settings_env as _env
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

STATE = "AlertSilencesState"


def shows_anything(page: Any) -> bool:
    return bool(page.silences or page.matchers or page.dialog_open or page.notice or page.silences_error)


DECISIONS[(STATE, "setvar")] = functools.partial(_setvar, cls_name=STATE, protected=shows_anything)
DECISIONS[("AlertRelatedState", "setvar")] = functools.partial(
    _setvar, cls_name="AlertRelatedState", protected=lambda s: bool(s.related or s.firings or s.history)
)


def tab(w: World, role: str) -> Any:
    """A tab showing the world's alert."""
    page = w.state(_state_cls(STATE), role, path=f"/alerts/{w.alert_id}", query={"alert_id": str(w.alert_id)})
    page._shown_alert = w.alert_id
    return page


def expect_login(result: Any, w: World) -> None:
    assert redirect_of(result) == f"/login?next=/alerts/{w.alert_id}", result


@contextlib.contextmanager
def alertmanager() -> Iterator[Alertmanager]:
    """A real Alertmanager, the environment's connection for the duration."""
    binary = require_tool("prometheus-alertmanager")
    with TemporaryDirectory() as tmp:
        config = alertmanager_config([webhook_receiver("none", "http://127.0.0.1:9/", None)])
        with Alertmanager(binary, Path(tmp), config) as am, _env(ALERTMANAGER_URL=am.url):
            yield am


def am_silences(am: Alertmanager) -> list[dict[str, Any]]:
    """Alertmanager's silences that are not expired."""
    found = httpx.get(f"{am.url}/api/v2/silences", timeout=5).json()
    return [s for s in found if s["status"]["state"] != "expired"]


async def our_silences() -> list[Silence]:
    async with async_session() as session:
        return list((await session.exec(select(Silence).order_by(col(Silence.id)))).all())


@decides((STATE, "open_silence"))
async def _open(w: World, _name: str) -> None:
    for role in ROLES:
        page = tab(w, role)
        result = await call(page, "open_silence")
        if role == "anonymous":
            expect_login(result, w)
            assert not page.dialog_open and page.matchers == []
            continue
        assert result is None and page.dialog_open
        assert [(m.name, m.value, m.op) for m in page.matchers][:3] == [
            ("alertname", ALERT_NAME, "="),
            ("instance", "web-1:9100", "="),
            ("job", "node", "="),
        ]


@decides(
    (STATE, "set_dialog_open"),
    (STATE, "edit_matcher"),
    (STATE, "remove_matcher"),
    (STATE, "add_matcher"),
    (STATE, "choose_duration"),
)
async def _dialog_fields(w: World, name: str) -> None:
    """They only change the tab's own dialog (nothing loaded, nothing stored), and ignore what is not
    a field, a row or a choice of it."""
    before = await db_snapshot()
    for role in ROLES:
        page = tab(w, role)
        page.dialog_open, page.matchers = True, [MatcherRow("a", "b", "=")]
        if name == "set_dialog_open":
            await call(page, name, True)
            assert page.dialog_open
            await call(page, name, False)
            assert not page.dialog_open
        elif name == "edit_matcher":
            for args in ([5, "name", "x"], [0, "secret", "x"], [0, "op", "<>"], ["0", "name", "x"]):
                await call(page, name, *args)
            assert page.matchers == [MatcherRow("a", "b", "=")]
            await call(page, name, 0, "op", "!~")
            await call(page, name, 0, "value", "v" * 5000)
            assert page.matchers[0].op == "!~" and len(page.matchers[0].value) == VALUE_MAX + 1
        elif name == "remove_matcher":
            await call(page, name, 3)
            await call(page, name, 0)
            assert page.matchers == []
        elif name == "add_matcher":
            for _ in range(40):
                await call(page, name)
            assert len(page.matchers) == 30
        else:
            await call(page, name, "7")
            assert page.duration == "120"
            await call(page, name, "30")
            await call(page, name, "custom")
            assert page.duration == "custom"
        assert page.silences == [] and page.notice == ""
    assert await db_snapshot() == before


@decides((STATE, "create_silence"))
async def _create(w: World, _name: str) -> None:
    with alertmanager() as am:
        for role in ROLES:
            page = tab(w, role)
            page.dialog_open = True
            page.matchers = [MatcherRow("alertname", ALERT_NAME, "="), MatcherRow("instance", "web-.*", "=~")]
            result = await call(page, "create_silence", {"comment": f"  by {role}  "})
            made = am_silences(am)
            if role == "anonymous":
                expect_login(result, w)
                assert made == [] and await our_silences() == []
                assert page.matchers == [] and not page.dialog_open
                continue
            assert redirect_of(result) is None and page.dialog_error == "", page.dialog_error
            assert not page.dialog_open and page.notice.startswith("Silenced until")
            mine = next(s for s in made if s["comment"] == f"by {role}")
            assert mine["createdBy"] == f"roles-{role}"
            assert {(m["name"], m["value"], m["isRegex"]) for m in mine["matchers"]} == {
                ("alertname", ALERT_NAME, False),
                ("instance", "web-.*", True),
            }
            assert [s.silence_id for s in page.silences] == [s["id"] for s in made]
        assert [s.created_by for s in await our_silences()] == ["roles-user", "roles-admin"]
        # A refusal (no comment) is said in the dialog, and nothing is made.
        page = tab(w, "user")
        page.dialog_open, page.matchers = True, [MatcherRow("alertname", ALERT_NAME, "=")]
        await call(page, "create_silence", {"comment": " "})
        assert "comment" in page.dialog_error and page.dialog_open and len(am_silences(am)) == 2


@decides((STATE, "expire"))
async def _expire(w: World, _name: str) -> None:
    with alertmanager() as am:
        ids = []
        for role in ("user", "admin"):
            page = tab(w, role)
            page.dialog_open, page.matchers = True, [MatcherRow("alertname", ALERT_NAME, "=")]
            await call(page, "create_silence", {"comment": role})
            assert page.notice, page.dialog_error
            ids.append(page.silences[-1].silence_id)
        for role in ROLES:
            page = tab(w, role)
            page.silences = [SilenceRow(silence_id=i) for i in ids]
            # Only a silence the tab shows.
            assert await call(page, "expire", "not-shown") in (None, [])
            assert len(am_silences(am)) == len(ids)
            result = await call(page, "expire", ids[0])
            if role == "anonymous":
                expect_login(result, w)
                assert len(am_silences(am)) == 2
                continue
            assert redirect_of(result) is None and page.error == "", page.error
            assert page.notice == f"Silence {ids.pop(0)} expired."
            assert [s["id"] for s in am_silences(am)] == ids
        assert [s.expired_by for s in await our_silences()] == ["roles-user", "roles-admin"]


@decides((STATE, "ack"))
async def _ack(w: World, _name: str) -> None:
    """Anonymous: sent to log in, nothing acked. The user acks; the admin is then told who did."""
    with alertmanager() as am:
        for role in ROLES:
            page = tab(w, role)
            result = await call(page, "ack")
            async with async_session() as session:
                alert = await session.get(Alert, w.alert_id)
                assert alert is not None
            if role == "anonymous":
                expect_login(result, w)
                assert alert.acked_by == "" and am_silences(am) == []
                continue
            assert redirect_of(result) is None
            assert alert.acked_by == "roles-user"
            acks = [s for s in am_silences(am) if s["comment"].startswith("Acknowledged by")]
            assert [s["createdBy"] for s in acks] == ["roles-user"]
            if role == "user":
                assert page.error == "" and page.notice.startswith("Acknowledged"), page.error
            else:
                assert page.error == "already acknowledged by roles-user" and page.notice == ""
