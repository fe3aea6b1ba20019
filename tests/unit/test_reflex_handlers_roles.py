"""Every event handler of the app's Reflex states, called in process as anonymous, `user` and `admin`.

The handlers are found by introspection (every state the app defines, every entry of its
`event_handlers`); each must have a decision in DECISIONS, so a new handler without one fails
`test_every_handler_has_a_role_decision`. A decision calls the handler as each role (in the order
anonymous, user, admin, on one database, so the admin's change comes last) and asserts what
happened: data loaded or not, the database changed or not, the redirect returned.

States are built the way Reflex builds them (`State(_reflex_internal_init=True)` with the whole
tree of substates) with router data whose headers carry the `re_session` cookie, as the browser's
socket would. Handlers are called through `StateCls.event_handlers[name].fn`. Background handlers
run the same way: on a plain state `async with self` is a no-op, and the live-page loop is made to
end after its first refresh (the tab is reported as closed).
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import json
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from reflex.event import EventHandler, EventSpec
from reflex.istate.data import RouterData
from reflex.state import BaseState, State
from sqlmodel import col, func, select

from remediation_app import state as state_module
from remediation_app.db import async_session, dispose_engines
from remediation_app.models import AnalysisJob, AuditEvent, LLMProvider, User
from remediation_app.pages.account.account_state import ERRORS as account_errors
from remediation_app.services import app_secrets, audit
from remediation_app.services.alertmanager.payload import NotificationIn
from remediation_app.services.alerts.ingest import receive_notification
from remediation_app.services.llm import providers
from remediation_app.services.security import verify_password
from remediation_app.services.tokens import issue_token
from tests.conftest import add_user
from tests.support.databases import copy_sqlite
from tests.support.payloads import am_alert, notification

pytestmark = pytest.mark.anyio

ROLES = ("anonymous", "user", "admin")  # the admin last: its change must not hide the others'
CLIENT_IP = "198.51.100.7"
ALERT_NAME = "RolesCheckAlert"
NEW_PASSWORD = "roles-new-password-1"
STORED_TOKEN = "roles-stored-webhook-token"


@pytest.fixture
def database_url(sqlite_template: str, tmp_path: Path) -> str:
    """SQLite only (this is about the handlers, not the database)."""
    return copy_sqlite(sqlite_template, tmp_path)


def _app_states() -> list[type[BaseState]]:
    import remediation_app.remediation_app  # noqa: F401  (defines and registers every page's state)

    found: list[type[BaseState]] = []

    def walk(cls: type[BaseState]) -> None:
        for sub in sorted(cls.get_substates(), key=lambda c: c.get_full_name()):
            if sub.__module__.startswith("remediation_app"):
                found.append(sub)
            walk(sub)

    walk(State)
    return found


def _all_handlers() -> set[tuple[str, str]]:
    return {(cls.__name__, name) for cls in _app_states() for name in cls.event_handlers}


@dataclass
class World:
    admin: User
    user: User
    target: User  # the user the admin handlers act on
    alert_id: int
    cookies: dict[str, str]  # role -> Cookie header ("" for anonymous)

    def state(self, cls: type[BaseState], role: str, path: str = "/", query: dict[str, str] | None = None) -> Any:
        """A fresh state tree for one tab of `role`; returns the `cls` substate."""
        root = State(_reflex_internal_init=True)
        headers = {"origin": "http://testserver", "host": "testserver"}
        if self.cookies[role]:
            headers["cookie"] = self.cookies[role]
        router_data = {
            "headers": headers,
            "pathname": path if not query else path.rsplit("/", 1)[0] + "/[alert_id]",
            "asPath": path,
            "query": query or {},
            "token": uuid.uuid4().hex,
            "ip": CLIENT_IP,
            "sid": uuid.uuid4().hex,
        }
        root.router_data = router_data
        root.router = RouterData.from_router_data(router_data)
        return root.get_substate(cls.get_full_name().split("."))


@pytest.fixture
async def world(app_settings: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    admin = await add_user("roles-admin", "admin")
    user = await add_user("roles-user", "user")
    target = await add_user("roles-target", "user")
    result = await receive_notification(NotificationIn.model_validate(notification(am_alert(ALERT_NAME))))
    async with async_session() as session:
        audit.record(session, action="roles.seed", actor=admin, target="seed")
        await session.commit()
    # A live page's loop ends after its first refresh (the tab counts as closed), quickly.
    monkeypatch.setattr(state_module, "LIVENESS_CHECK_S", 0.01)
    monkeypatch.setattr(state_module, "_tab_connected", lambda _token: False)
    cookies = {
        "anonymous": "",
        "user": f"theme=dark; re_session={issue_token(user)[0]}",
        "admin": f"re_session={issue_token(admin)[0]}",
    }
    yield World(admin, user, target, result.alert_ids[0], cookies)
    await dispose_engines()


async def call(state: BaseState, name: str, *args: Any) -> Any:
    """Run a handler the way Reflex does (sync, async or a generator); returns what it gave back."""
    handler: EventHandler = type(state).event_handlers[name]
    result = handler.fn(state, *args)
    if inspect.isasyncgen(result):
        return [item async for item in result]
    if inspect.isgenerator(result):
        return list(result)
    if inspect.isawaitable(result):
        return await result
    return result


def redirect_of(result: Any) -> str | None:
    """The path of the rx.redirect a handler returned, if any."""
    for item in result if isinstance(result, list) else [result]:
        if isinstance(item, EventSpec) and item.handler.fn.__qualname__ == "_redirect":
            return str({str(k._js_expr): v._var_value for k, v in item.args}["path"])
    return None


def expect_refused(result: Any, role: str) -> None:
    """Anonymous: sent to log in; a logged-in non-admin: sent to the dashboard with a notice."""
    target = redirect_of(result)
    if role == "anonymous":
        assert target is not None and target.startswith("/login?next=/"), result
    else:
        assert target == "/?denied=1", result


def assert_no_secret_in_state(state: BaseState, *secrets: str) -> None:
    """No var of any of the tab's states holds a password or token (router vars aside)."""
    root = state._get_root_state()
    values: dict[str, Any] = {}
    stack = [root]
    while stack:
        current = stack.pop()
        stack.extend(current.substates.values())
        values.update(
            {
                f"{current.get_name()}.{name}": getattr(current, name)
                for name in current.base_vars
                if not name.startswith("rx_router")
            }
        )
    text = json.dumps(values, default=str)
    for secret in secrets:
        assert secret not in text


async def db_snapshot() -> dict[str, Any]:
    async with async_session() as session:
        users = (
            await session.exec(
                select(User.id, User.username, User.role, User.is_active, User.token_version, User.password_hash)
            )
        ).all()
        events = (await session.exec(select(func.count()).select_from(AuditEvent))).one()
        secrets = await app_secrets.secret_status(session)
    return {"users": sorted(tuple(u) for u in users), "audit": events, "secrets": secrets}


async def fetch_user(username: str) -> User | None:
    async with async_session() as session:
        return (await session.exec(select(User).where(col(User.username) == username))).first()


async def last_event(action: str) -> AuditEvent:
    async with async_session() as session:
        query = select(AuditEvent).where(col(AuditEvent.action) == action).order_by(col(AuditEvent.id).desc())
        event = (await session.exec(query)).first()
    assert event is not None, f"no {action} event"
    return event


# A decision gets the world and the handler's name.
Decision = Callable[[World, str], Awaitable[None]]
DECISIONS: dict[tuple[str, str], Decision] = {}


def decides(*keys: tuple[str, str]) -> Callable[[Decision], Decision]:
    def register(fn: Decision) -> Decision:
        for key in keys:
            assert key not in DECISIONS, key
            DECISIONS[key] = fn
        return fn

    return register


def _state_cls(name: str) -> type[BaseState]:
    return next(cls for cls in _app_states() if cls.__name__ == name)


# --- AuthState: the on_load redirects ---------------------------------------------------------


@decides(("AuthState", "require_login"))
async def _require_login(w: World, _name: str) -> None:
    for role in ROLES:
        auth = w.state(_state_cls("AuthState"), role, path="/alerts/5")
        result = await call(auth, "require_login")
        if role == "anonymous":
            assert redirect_of(result) == "/login?next=/alerts/5"
            assert (auth.username, auth.role) == ("", "")
        else:
            assert result is None
            assert auth.username == f"roles-{role}" and auth.role == role


@decides(("AuthState", "require_admin"))
async def _require_admin(w: World, _name: str) -> None:
    for role in ROLES:
        auth = w.state(_state_cls("AuthState"), role, path="/admin/users")
        result = await call(auth, "require_admin")
        if role == "admin":
            assert result is None and auth.is_admin
        else:
            expect_refused(result, role)
            assert not auth.is_admin


# --- Live pages -------------------------------------------------------------------------------


@decides(("AlertsState", "reload"), ("AlertsState", "watch"))
async def _alerts_load(w: World, name: str = "") -> None:
    for handler in [name] if name else ["reload", "watch"]:
        for role in ROLES:
            page = w.state(_state_cls("AlertsState"), role)
            await call(page, handler)
            names = [row["alertname"] for row in page.rows]
            if role == "anonymous":
                assert names == [] and page.total == 0 and page.counts == {}
                auth = await page.get_state(_state_cls("AuthState"))
                assert auth.username == ""
            else:
                assert names == [ALERT_NAME] and page.total == 1 and page.counts["firing"] == 1
            assert not page.live


@decides(("AlertsState", "set_filter"), ("AlertsState", "next_page"), ("AlertsState", "previous_page"))
async def _alerts_filters(w: World, name: str) -> None:
    """They only change the tab's filter or page; the loading is AlertsState.reload's (checked above).
    A name that is not a filter changes nothing."""
    cls = _state_cls("AlertsState")
    calls = {
        "set_filter": [
            ["status", "firing"],
            ["severity", "warning"],
            ["action", "manual"],
            ["analysis", "failed"],
            ["query", "x" * 300],
            ["page", "3"],
        ]
    }.get(name, [[]])
    for role in ROLES:
        for args in calls:
            page = w.state(cls, role)
            page.total, page.page = 120, 1  # so that either way has a page to go to
            result = await call(page, name, *args)
            assert page.rows == []
            if args and args[0] == "page":
                assert result is None and page.page == 1
                continue
            assert result is None or result is cls.event_handlers["reload"], result
            if args:
                assert getattr(page, args[0]) == args[1][:200] and page.page == 0


@decides(("AlertsState", "sort_by"), ("AlertsState", "pick_count"), ("AlertsState", "clear_filters"))
async def _alerts_board_controls(w: World, name: str) -> None:
    """They only change the tab's sort or filters (the loading is AlertsState.reload's); a made-up
    column or value changes nothing."""
    cls = _state_cls("AlertsState")
    calls = {
        "sort_by": [["severity"], ["secrets"]],
        "pick_count": [["firing", "critical", ""], ["firing", "", "silenced"], ["bogus", "", ""]],
        "clear_filters": [[]],
    }[name]
    for role in ROLES:
        for args in calls:
            page = w.state(cls, role)
            page.page, page.query = 1, "x"
            result = await call(page, name, *args)
            assert page.rows == [] and page.counts == {}
            if args in (["secrets"], ["bogus", "", ""]):
                assert result is None and page.page == 1 and page.sort == "" and page.status == "any"
                continue
            assert result is cls.event_handlers["reload"] and page.page == 0
    page = w.state(cls, "user")
    await call(page, "sort_by", "severity")
    await call(page, "sort_by", "severity")
    assert page.sort == "severity"  # most severe first, then reversed


@decides(("AlertPageState", "watch"))
async def _alert_page(w: World, _name: str) -> None:
    for role in ROLES:
        page = w.state(
            _state_cls("AlertPageState"), role, path=f"/alerts/{w.alert_id}", query={"alert_id": str(w.alert_id)}
        )
        await call(page, "watch")
        labels = await page.get_state(_state_cls("AlertLabelsState"))
        if role == "anonymous":
            assert page.alert == {} and labels.labels == [] and page.timeline == []
        else:
            assert page.alert["alertname"] == ALERT_NAME
            assert ["alertname", ALERT_NAME, ""] in labels.labels
            assert labels.labels_showing == "4 labels"


@decides(("AlertLabelsState", "turn_page"))
async def _alert_labels_page(w: World, _name: str) -> None:
    """Anonymous: sent to log in, nothing loaded. A user and an admin: a page of the alert their
    tab shows (clamped to the last page), nothing for another alert or a made-up table."""
    for role in ROLES:
        labels = w.state(
            _state_cls("AlertLabelsState"), role, path=f"/alerts/{w.alert_id}", query={"alert_id": str(w.alert_id)}
        )
        assert await call(labels, "turn_page", "secrets", 1) is None and labels.labels == []
        result = await call(labels, "turn_page", "labels", 1)
        if role == "anonymous":
            assert redirect_of(result) == f"/login?next=/alerts/{w.alert_id}"
            assert labels.labels == []
            continue
        assert result is None and labels.labels == []  # the tab shows no alert yet
        labels._shown_alert = w.alert_id
        assert await call(labels, "turn_page", "labels", 1) is None
        assert ["alertname", ALERT_NAME, ""] in labels.labels and labels.labels_page == 0


# --- Public handlers --------------------------------------------------------------------------


@decides(("LoginState", "read_query"))
async def _login_query(w: World, _name: str) -> None:
    """The login page reads its own URL; nothing protected."""
    for role in ROLES:
        login = w.state(_state_cls("LoginState"), role, path="/login")
        assert await call(login, "read_query") is None


async def _setvar(w: World, _name: str, *, cls_name: str, protected: Callable[[Any], bool]) -> None:
    """setvar(name, value) only reaches `set_<name>` methods of the state: none of them loads or
    changes protected data (AlertsState's set_* only change filters; their reload is not run)."""
    cls = _state_cls(cls_name)
    before = await db_snapshot()
    for role in ROLES:
        for var in sorted(cls.base_vars):
            page = w.state(cls, role)
            with contextlib.suppress(AttributeError, TypeError):  # most vars have no setter
                await call(page, "setvar", var, getattr(page, var))
            assert not protected(page), (var, role)
    assert await db_snapshot() == before


# What each state would hold if it had loaded protected data.
PROTECTED: dict[str, Callable[[Any], bool]] = {
    "AuthState": lambda s: False,
    "LoginState": lambda s: False,
    "AlertsState": lambda s: bool(s.rows or s.total or s.counts),
    "AlertPageState": lambda s: bool(s.alert or s.timeline),
    "AlertLabelsState": lambda s: bool(s.labels or s.annotations or s.labels_showing or s.annotations_showing),
    "AdminUsersState": lambda s: bool(s.users),
    "AdminAuditState": lambda s: bool(s.rows or s.total),
    "AdminSettingsState": lambda s: bool(s.loaded or s.webhook_token_set),
    "AlertAnalysisState": lambda s: bool(s.loaded or s.analyses or s.choices or s.queue_kind),
    "AdminProvidersState": lambda s: bool(s.rows or s.loaded or s.editing_id),
    "AccountState": lambda s: bool(s.username or s.role or s.last_login),
}
for _cls_name, _protected in PROTECTED.items():
    DECISIONS[(_cls_name, "setvar")] = functools.partial(_setvar, cls_name=_cls_name, protected=_protected)


# --- Account page (any logged-in user; the password itself is changed by a native form post) ---


@decides(("AccountState", "load"))
async def _account_load(w: World, _name: str) -> None:
    """Anonymous: sent to log in, nothing shown. A user and an admin see themselves, and the
    message of the code in the URL (an unknown code shows nothing)."""
    for query, notice, error in [
        ("?changed=1", True, ""),
        ("?error=invalid", False, "invalid"),
        ("?error=<b>", False, ""),
    ]:
        for role in ROLES:
            page = w.state(_state_cls("AccountState"), role, path=f"/account{query}")
            result = await call(page, "load")
            if role == "anonymous":
                assert redirect_of(result) == "/login?next=/account"
                assert (page.username, page.role, page.last_login, page.notice, page.error) == ("", "", "", "", "")
                continue
            assert result is None and (page.username, page.role) == (f"roles-{role}", role)
            assert page.last_login == "never"
            assert bool(page.notice) is notice
            assert page.error == (account_errors[error] if error else "")
            assert_no_secret_in_state(page, *[c.split("re_session=")[1] for c in w.cookies.values() if c])


# --- Users admin page -------------------------------------------------------------------------


async def _admin_change(
    w: World,
    handler: str,
    args: Callable[[World], list[Any]],
    changed: Callable[[Any], Awaitable[None]],
    prepare: Callable[[Any], None] = lambda page: None,
) -> None:
    """Refused (redirect, nothing shown, database untouched) for anonymous and user; done for admin."""
    cls = _state_cls("AdminUsersState")
    for role in ROLES:
        page = w.state(cls, role, path="/admin/users")
        prepare(page)
        before = await db_snapshot()
        result = await call(page, handler, *args(w))
        assert_no_secret_in_state(page, NEW_PASSWORD, *[c for c in w.cookies.values() if c])
        if role == "admin":
            assert redirect_of(result) is None and page.error == "", (result, page.error)
            await changed(page)
        else:
            expect_refused(result, role)
            assert page.users == [] and not page.reset_open
            assert await db_snapshot() == before


@decides(("AdminUsersState", "load"))
async def _users_load(w: World, _name: str) -> None:
    async def shown(page: Any) -> None:
        names = {row["username"] for row in page.users}
        assert {"roles-admin", "roles-user", "roles-target"} <= names
        assert all(set(row) == {"id", "username", "role", "active", "last_login"} for row in page.users)

    await _admin_change(w, "load", lambda w: [], shown)


@decides(("AdminUsersState", "create_user"))
async def _users_create(w: World, _name: str) -> None:
    form = {"username": "roles-created", "password": NEW_PASSWORD, "role": "user"}

    async def created(page: Any) -> None:
        user = await fetch_user("roles-created")
        assert user is not None and user.role == "user" and verify_password(NEW_PASSWORD, user.password_hash)
        event = await last_event("user.create")
        assert (event.actor, event.target, event.address) == ("roles-admin", "roles-created", CLIENT_IP)
        assert "roles-created" in {row["username"] for row in page.users}

    await _admin_change(w, "create_user", lambda w: [dict(form)], created)


@decides(("AdminUsersState", "change_role"))
async def _users_role(w: World, _name: str) -> None:
    async def promoted(page: Any) -> None:
        user = await fetch_user("roles-target")
        assert user is not None and user.role == "admin"
        event = await last_event("user.role")
        assert (event.actor, event.target, event.address) == ("roles-admin", "roles-target", CLIENT_IP)

    await _admin_change(w, "change_role", lambda w: [str(w.target.id), "admin"], promoted)


@decides(("AdminUsersState", "change_active"))
async def _users_active(w: World, _name: str) -> None:
    async def deactivated(page: Any) -> None:
        user = await fetch_user("roles-target")
        assert user is not None and not user.is_active
        event = await last_event("user.deactivate")
        assert (event.actor, event.target, event.address) == ("roles-admin", "roles-target", CLIENT_IP)
        assert next(r for r in page.users if r["username"] == "roles-target")["active"] == "no"

    await _admin_change(w, "change_active", lambda w: [str(w.target.id), False], deactivated)


@decides(("AdminUsersState", "open_reset"))
async def _users_open_reset(w: World, _name: str) -> None:
    async def opened(page: Any) -> None:
        assert page.reset_open and page.reset_username == "roles-target"
        assert page.reset_user_id == str(w.target.id)

    await _admin_change(w, "open_reset", lambda w: [str(w.target.id)], opened)


@decides(("AdminUsersState", "close_reset"))
async def _users_close_reset(w: World, _name: str) -> None:
    def dialog_open(page: Any) -> None:
        page.reset_open, page.reset_user_id, page.reset_username = True, str(w.target.id), "roles-target"

    async def closed(page: Any) -> None:
        assert not page.reset_open and page.reset_user_id == ""

    await _admin_change(w, "close_reset", lambda w: [False], closed, prepare=dialog_open)


@decides(("AdminUsersState", "reset_password"))
async def _users_reset_password(w: World, _name: str) -> None:
    def dialog_open(page: Any) -> None:
        page.reset_open, page.reset_user_id, page.reset_username = True, str(w.target.id), "roles-target"

    async def reset(page: Any) -> None:
        user = await fetch_user("roles-target")
        assert user is not None and verify_password(NEW_PASSWORD, user.password_hash)
        event = await last_event("user.password")
        assert (event.actor, event.target, event.address) == ("roles-admin", "roles-target", CLIENT_IP)
        assert NEW_PASSWORD not in json.dumps(event.details)
        assert not page.reset_open

    await _admin_change(w, "reset_password", lambda w: [{"password": NEW_PASSWORD}], reset, prepare=dialog_open)


# --- Audit page -------------------------------------------------------------------------------


@decides(
    ("AdminAuditState", "load"),
    ("AdminAuditState", "set_filter"),
    ("AdminAuditState", "next_page"),
    ("AdminAuditState", "previous_page"),
)
async def _audit(w: World, name: str) -> None:
    cls = _state_cls("AdminAuditState")
    calls = {"set_filter": [["actor", "roles-admin"], ["action", "roles.seed"], ["page", "3"]]}.get(name, [[]])
    for role in ROLES:
        for args in calls:
            page = w.state(cls, role, path="/admin/audit")
            result = await call(page, name, *args)
            if role != "admin":
                expect_refused(result, role)
                assert page.rows == [] and page.total == 0 and page.actor == "" and page.action == ""
                continue
            assert result is None
            if args and args[0] == "page":  # not a filter: nothing changes, nothing is loaded
                assert page.page == 0 and page.rows == []
                continue
            assert "roles.seed" in {row["action"] for row in page.rows} and page.total >= 1
            if args:
                assert {row[args[0]] for row in page.rows} == {args[1]}


# --- Settings page ----------------------------------------------------------------------------


async def _settings_change(w: World, handler: str, args: list[Any], expect_set: bool) -> None:
    cls = _state_cls("AdminSettingsState")
    for role in ROLES:
        page = w.state(cls, role, path="/admin/settings")
        before = await db_snapshot()
        result = await call(page, handler, *args)
        assert_no_secret_in_state(page, STORED_TOKEN)
        if role == "admin":
            assert result is None and page.error == "", page.error
            assert page.loaded and page.webhook_token_set is expect_set
            async with async_session() as session:
                assert (await app_secrets.get_secret(session, "webhook_token")) == (
                    STORED_TOKEN if expect_set else None
                )
            event = await last_event("settings.secret")
            assert (event.actor, event.address) == ("roles-admin", CLIENT_IP)
        else:
            expect_refused(result, role)
            assert not page.loaded and not page.webhook_token_set
            assert await db_snapshot() == before


@decides(("AdminSettingsState", "load"))
async def _settings_load(w: World, _name: str) -> None:
    for role in ROLES:
        page = w.state(_state_cls("AdminSettingsState"), role, path="/admin/settings")
        result = await call(page, "load")
        if role == "admin":
            assert result is None and page.loaded and not page.webhook_token_set
        else:
            expect_refused(result, role)
            assert not page.loaded


@decides(("AdminSettingsState", "replace_webhook_token"))
async def _settings_replace(w: World, _name: str) -> None:
    await _settings_change(w, "replace_webhook_token", [{"webhook_token": STORED_TOKEN}], expect_set=True)


@decides(("AdminSettingsState", "clear_webhook_token"))
async def _settings_clear(w: World, _name: str) -> None:
    async with async_session() as session:
        await app_secrets.set_secret(session, name="webhook_token", value=STORED_TOKEN, actor=w.admin, address="")
        await session.commit()
    await _settings_change(w, "clear_webhook_token", [], expect_set=False)


# --- Alert page: LLM analysis ------------------------------------------------------------------

PROVIDER_KEY = "sk-roles-provider-key-1234567890"


async def _stored_provider(w: World, name: str = "roles-llm") -> LLMProvider:
    async with async_session() as session:
        found = (await session.exec(select(LLMProvider).where(col(LLMProvider.name) == name))).first()
        if found is not None:
            return found
        row = await providers.save_provider(
            session,
            providers.ProviderInput(name=name, model="openai/gpt-4o-mini", api_key=PROVIDER_KEY),
            provider_id=None,
            actor=w.admin,
        )
        await session.commit()
        return row


async def _jobs() -> list[AnalysisJob]:
    async with async_session() as session:
        return list((await session.exec(select(AnalysisJob).order_by(col(AnalysisJob.id)))).all())


@decides(("AlertAnalysisState", "analyze"))
async def _analysis_analyze(w: World, _name: str) -> None:
    """Anonymous: sent to log in, nothing queued. A user and an admin: queued as themselves (the
    admin's request takes over the user's still-queued job)."""
    await _stored_provider(w)
    for role in ROLES:
        page = w.state(
            _state_cls("AlertAnalysisState"), role, path=f"/alerts/{w.alert_id}", query={"alert_id": str(w.alert_id)}
        )
        result = await call(page, "analyze")
        assert_no_secret_in_state(page, PROVIDER_KEY)
        jobs = await _jobs()
        if role == "anonymous":
            assert redirect_of(result) == f"/login?next=/alerts/{w.alert_id}"
            assert jobs == [] and not page.loaded and page.analyses == []
        else:
            assert result is None and page.refused == "", page.refused
            assert len(jobs) == 1 and jobs[0].requested_by == f"user:roles-{role}" and not jobs[0].automatic
            assert page.loaded and page.queue_kind == "queued"


@decides(("AlertAnalysisState", "choose_provider"))
async def _analysis_choose(w: World, _name: str) -> None:
    """It only picks among the choices the tab was shown (none for a tab that loaded nothing)."""
    for role in ROLES:
        page = w.state(_state_cls("AlertAnalysisState"), role)
        assert await call(page, "choose_provider", "7") is None
        assert page.choice == ""
        page.choices = [{"id": "7", "label": "x"}]
        await call(page, "choose_provider", "7")
        assert page.choice == "7"
    assert await _jobs() == []


# --- Providers admin page -----------------------------------------------------------------------


async def _providers_snapshot() -> list[tuple[Any, ...]]:
    async with async_session() as session:
        rows = await providers.list_providers(session)
    return sorted((r.id, r.name, r.model, r.api_key_ciphertext, r.is_default, r.enabled) for r in rows)


async def _providers_change(
    w: World,
    handler: str,
    args: Callable[[LLMProvider], list[Any]],
    changed: Callable[[Any, LLMProvider], Awaitable[None]],
    prepare: Callable[[Any, LLMProvider], None] = lambda page, row: None,
) -> None:
    """Refused (redirect, nothing shown, nothing changed) for anonymous and user; done for admin."""
    row = await _stored_provider(w)
    cls = _state_cls("AdminProvidersState")
    for role in ROLES:
        page = w.state(cls, role, path="/admin/providers")
        prepare(page, row)
        before = (await db_snapshot(), await _providers_snapshot())
        result = await call(page, handler, *args(row))
        assert_no_secret_in_state(page, PROVIDER_KEY, NEW_PASSWORD)
        if role == "admin":
            assert redirect_of(result) is None and page.error == "", (result, page.error)
            await changed(page, row)
        else:
            expect_refused(result, role)
            assert page.rows == [] and not page.loaded and page.editing_id == ""
            assert (await db_snapshot(), await _providers_snapshot()) == before


@decides(("AdminProvidersState", "load"))
async def _providers_load(w: World, _name: str) -> None:
    async def shown(page: Any, row: LLMProvider) -> None:
        assert page.loaded and [r["name"] for r in page.rows] == ["roles-llm"]
        assert page.rows[0]["has_api_key"] == "yes" and page.rows[0]["source"] == "database"

    await _providers_change(w, "load", lambda row: [], shown)


@decides(("AdminProvidersState", "start_edit"))
async def _providers_edit(w: World, _name: str) -> None:
    async def editing(page: Any, row: LLMProvider) -> None:
        assert page.editing_id == str(row.id) and page.form["name"] == "roles-llm"
        assert page.form["has_api_key"] == "true"

    await _providers_change(w, "start_edit", lambda row: [str(row.id)], editing)


@decides(("AdminProvidersState", "cancel_edit"))
async def _providers_cancel(w: World, _name: str) -> None:
    def edit(page: Any, row: LLMProvider) -> None:
        page.editing_id = str(row.id)

    async def cancelled(page: Any, row: LLMProvider) -> None:
        assert page.editing_id == "" and page.form["name"] == ""

    await _providers_change(w, "cancel_edit", lambda row: [], cancelled, prepare=edit)


@decides(("AdminProvidersState", "save_row"))
async def _providers_save(w: World, _name: str) -> None:
    form = {
        "name": "roles-created-llm",
        "model": "ollama/llama3",
        "api_base": "http://127.0.0.1:11434",
        "api_key": NEW_PASSWORD,
        "temperature": "0.5",
        "max_tokens": "800",
        "timeout_s": "30",
        "tool_calling": "off",
        "local": "on",
        "enabled": "on",
    }

    async def created(page: Any, row: LLMProvider) -> None:
        async with async_session() as session:
            query = select(LLMProvider).where(col(LLMProvider.name) == "roles-created-llm")
            stored = (await session.exec(query)).one()
            assert providers.config_of(stored).api_key == NEW_PASSWORD
        assert (stored.model, stored.max_tokens, stored.temperature, stored.enabled) == (
            "ollama/llama3",
            800,
            0.5,
            True,
        )
        assert (stored.tool_calling, stored.local) == ("off", True)
        event = await last_event("provider.create")
        assert (event.actor, event.target, event.address) == ("roles-admin", "roles-created-llm", CLIENT_IP)
        assert NEW_PASSWORD not in json.dumps(event.details)
        assert "roles-created-llm" in {r["name"] for r in page.rows}

    await _providers_change(w, "save_row", lambda row: [dict(form)], created)


@decides(("AdminProvidersState", "delete_row"))
async def _providers_delete(w: World, _name: str) -> None:
    async def deleted(page: Any, row: LLMProvider) -> None:
        assert await _providers_snapshot() == []
        event = await last_event("provider.delete")
        assert (event.actor, event.target) == ("roles-admin", "roles-llm")

    await _providers_change(w, "delete_row", lambda row: [str(row.id)], deleted)


@decides(("AdminProvidersState", "test_provider"))
async def _providers_test(w: World, _name: str) -> None:
    """The environment's provider (id 0) without LLM_MODEL: the test answers at once, with the reason."""

    def listed(page: Any, row: LLMProvider) -> None:
        page.rows = [{"id": "0", "name": "environment"}]

    async def tested(page: Any, row: LLMProvider) -> None:
        assert page.rows[0]["test_status"] == "failed" and page.rows[0]["test_message"] == "LLM_MODEL is not set"

    await _providers_change(w, "test_provider", lambda row: ["0"], tested, prepare=listed)


# --- Rules admin page: its decisions live in rules_page_roles.py (registered on import) --------

# (and the alert page's chat: chat_page_roles.py; its silences and acks: alert_page_roles.py; the
# terminal and its admin pages: terminal_page_roles.py; the datasources and Alertmanagers pages:
# connections_page_roles.py; the notifications page: notify_page_roles.py;
# the incident pages: incidents_page_roles.py; diagnostics: diagnostics_page_roles.py; incident memory:
# memory_page_roles.py; evaluations: evals_page_roles.py)
from tests.unit import (  # noqa: E402, F401
    alert_page_roles,
    chat_page_roles,
    connections_page_roles,
    diagnostics_page_roles,
    evals_page_roles,
    incidents_page_roles,
    memory_page_roles,
    notify_page_roles,
    rules_page_roles,
    terminal_page_roles,
)

# --- The tests --------------------------------------------------------------------------------


def test_every_handler_has_a_role_decision() -> None:
    handlers = _all_handlers()
    missing = sorted(handlers - DECISIONS.keys())
    assert not missing, f"event handlers without a role decision in this test: {missing}"
    stale = sorted(DECISIONS.keys() - handlers)
    assert not stale, f"decisions for handlers that no longer exist: {stale}"
    # Every page's state is covered, admin pages included.
    assert {
        "AuthState",
        "AlertsState",
        "AlertPageState",
        "LoginState",
        "AdminUsersState",
        "AdminAuditState",
        "AdminSettingsState",
        "AlertAnalysisState",
        "AdminProvidersState",
        "AdminDatasourcesState",
        "AdminAlertmanagersState",
        "AdminRulesState",
        "TerminalPanelState",
        "AdminServersState",
        "AdminSessionsState",
        "AccountState",
        "IncidentsState",
        "IncidentPageState",
    } <= {cls for cls, _ in handlers}


def _decision_params() -> Iterator[Any]:
    for key in sorted(DECISIONS):
        yield pytest.param(key, id=".".join(key))


@pytest.mark.parametrize("key", list(_decision_params()))
async def test_handler_as_each_role(key: tuple[str, str], world: World) -> None:
    await DECISIONS[key](world, key[1])


async def test_revoked_login_ends_a_live_tab(world: World) -> None:
    """A tab whose user was deactivated: its live page forgets the data and the navigation bar empties."""
    page = world.state(_state_cls("AlertsState"), "user")
    auth = await page.get_state(_state_cls("AuthState"))
    assert await call(auth, "require_login") is None and auth.username == "roles-user"
    async with async_session() as session:
        user = await session.get(User, world.user.id)
        assert user is not None
        user.is_active = False
        session.add(user)
        await session.commit()
    await call(page, "watch")
    assert page.rows == [] and auth.username == "" and auth.role == ""


async def test_client_address_ignores_forwarded_for_unless_trusted(world: World, app_env: Callable[..., None]) -> None:
    page = world.state(_state_cls("AdminUsersState"), "admin")
    root = page._get_root_state()
    data = {**root.router_data, "headers": {**root.router_data["headers"], "x-forwarded-for": "203.0.113.9, 10.0.0.1"}}
    root.router = RouterData.from_router_data(data)
    assert state_module.client_address(page) == CLIENT_IP
    app_env(TRUST_PROXY_HEADERS="true")
    # The last hop is the one our proxy added; the first was written by the client.
    assert state_module.client_address(page) == "10.0.0.1"
