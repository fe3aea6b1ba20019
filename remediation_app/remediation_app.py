"""Builds the app: pages, API routes (api_transformer) and lifespan tasks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

import reflex as rx

from remediation_app.api import build_api
from remediation_app.db import TRANSIENT_DB_ERRORS, async_session, dispose_engines
from remediation_app.logs import configure_logging
from remediation_app.pages.account import AccountState, account_page
from remediation_app.pages.admin_audit import AdminAuditState, admin_audit_page
from remediation_app.pages.admin_providers import AdminProvidersState, admin_providers_page
from remediation_app.pages.admin_rules import AdminRulesState, admin_rules_page
from remediation_app.pages.admin_servers import AdminServersState, admin_servers_page
from remediation_app.pages.admin_sessions import AdminSessionsState, admin_sessions_page
from remediation_app.pages.admin_settings import AdminSettingsState, admin_settings_page
from remediation_app.pages.admin_users import AdminUsersState, admin_users_page
from remediation_app.pages.alert import AlertPageState, alert_page
from remediation_app.pages.alert_chat import AlertChatState
from remediation_app.pages.dashboard import AlertsState, dashboard
from remediation_app.pages.login import LoginState, login_page
from remediation_app.pages.terminal import TerminalPanelState, terminal_page
from remediation_app.services import metrics, terminal
from remediation_app.services.auth import prune_login_attempts
from remediation_app.services.events import bus
from remediation_app.services.ingest import prune_notifications
from remediation_app.services.llm import warm_up
from remediation_app.services.users import ensure_first_admin
from remediation_app.services.worker import run_workers
from remediation_app.settings import get_settings
from remediation_app.state import AuthState

log = logging.getLogger("remediation_app")
PRUNE_EVERY_S = 3600


def _warn_about_configuration() -> None:
    settings = get_settings()
    if not settings.llm_model:
        log.info("no LLM provider in the environment (LLM_MODEL): an admin can add one on /admin/providers")
    if not settings.webhook_auth_configured:
        if settings.webhook_allow_unauthenticated:
            log.warning("WEBHOOK_ALLOW_UNAUTHENTICATED=true: anyone who can reach /webhook/alerts can post alerts")
        else:
            log.warning(
                "no webhook credential in the environment: /webhook/alerts refuses every request unless an "
                "admin sets a webhook token on the Settings page. Set WEBHOOK_TOKEN (bearer) or "
                "WEBHOOK_USERNAME and WEBHOOK_PASSWORD (basic auth)."
            )


async def _prune_forever() -> None:
    days = get_settings().notification_retention_days
    while True:
        try:
            async with async_session() as session:
                removed = await prune_notifications(session, timedelta(days=days))
                await prune_login_attempts(session)
                await session.commit()
            if removed:
                log.info("pruned old notifications", extra={"removed": removed})
            # Terminals whose process died (no heartbeat) get an end in their record.
            if closed := await terminal.close_abandoned_sessions():
                log.info("closed abandoned terminal sessions", extra={"closed": closed})
        except TRANSIENT_DB_ERRORS:
            log.warning("pruning skipped: database unavailable")
        await asyncio.sleep(PRUNE_EVERY_S)


@contextlib.asynccontextmanager
async def lifespan() -> AsyncIterator[None]:
    settings = get_settings()
    configure_logging(settings)
    # Before anything is counted: the values of every worker go to files a scrape merges.
    metrics.setup_multiprocess(settings.data_dir)
    settings.resolve_secret_key()
    settings.resolve_encryption_key()
    _warn_about_configuration()
    try:
        await ensure_first_admin()
    except TRANSIENT_DB_ERRORS:
        log.warning("first admin not checked: database unavailable")
    tasks = [
        asyncio.create_task(bus.run(), name="event-bus"),
        asyncio.create_task(_prune_forever(), name="prune"),
        asyncio.create_task(warm_up(), name="litellm-import"),
        asyncio.create_task(run_workers(), name="analysis-worker"),
    ]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await dispose_engines()


app = rx.App(api_transformer=build_api)
app.add_page(login_page, route="/login", title="Sign in · Remediation Engine", on_load=LoginState.read_query)
app.add_page(
    dashboard, route="/", title="Alerts · Remediation Engine", on_load=[AuthState.require_login, AlertsState.watch]
)
app.add_page(
    alert_page,
    route="/alerts/[alert_id]",
    title="Alert · Remediation Engine",
    on_load=[AuthState.require_login, AlertPageState.watch, AlertChatState.load, TerminalPanelState.for_alert],
)
# Admin pages: require_admin only redirects; every handler (load included) checks the admin itself.
app.add_page(
    admin_users_page,
    route="/admin/users",
    title="Users · Remediation Engine",
    on_load=[AuthState.require_admin, AdminUsersState.load],
)
app.add_page(
    admin_rules_page,
    route="/admin/rules",
    title="Rules · Remediation Engine",
    on_load=[AuthState.require_admin, AdminRulesState.load],
)
app.add_page(
    admin_audit_page,
    route="/admin/audit",
    title="Audit log · Remediation Engine",
    on_load=[AuthState.require_admin, AdminAuditState.load],
)
app.add_page(
    admin_settings_page,
    route="/admin/settings",
    title="Settings · Remediation Engine",
    on_load=[AuthState.require_admin, AdminSettingsState.load],
)
app.add_page(
    admin_providers_page,
    route="/admin/providers",
    title="LLM providers · Remediation Engine",
    on_load=[AuthState.require_admin, AdminProvidersState.load],
)
app.add_page(
    terminal_page,
    route="/terminal",
    title="Terminal · Remediation Engine",
    on_load=[AuthState.require_login, TerminalPanelState.load],
)
app.add_page(
    admin_servers_page,
    route="/admin/servers",
    title="SSH servers · Remediation Engine",
    on_load=[AuthState.require_admin, AdminServersState.load],
)
app.add_page(
    account_page,
    route="/account",
    title="Account · Remediation Engine",
    on_load=[AuthState.require_login, AccountState.load],
)
app.add_page(
    admin_sessions_page,
    route="/admin/sessions",
    title="Terminal sessions · Remediation Engine",
    on_load=[AuthState.require_admin, AdminSessionsState.load],
)
app.register_lifespan_task(lifespan)
