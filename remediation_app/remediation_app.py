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
from remediation_app.pages.account.account import account_page
from remediation_app.pages.admin.alertmanagers.alertmanagers import admin_alertmanagers_page
from remediation_app.pages.admin.audit.audit import admin_audit_page
from remediation_app.pages.admin.datasources.datasources import admin_datasources_page
from remediation_app.pages.admin.evals.evals import admin_evals_page
from remediation_app.pages.admin.notifications.notifications import admin_notifications_page
from remediation_app.pages.admin.policy.policy import admin_policy_page
from remediation_app.pages.admin.providers.providers import admin_providers_page
from remediation_app.pages.admin.rules.rules import admin_rules_page
from remediation_app.pages.admin.servers.servers import admin_servers_page
from remediation_app.pages.admin.sessions.sessions import admin_sessions_page
from remediation_app.pages.admin.settings.settings import admin_settings_page
from remediation_app.pages.admin.users.users import admin_users_page
from remediation_app.pages.alerts.alert import alert_page
from remediation_app.pages.alerts.dashboard import dashboard
from remediation_app.pages.incidents.incident import incident_page
from remediation_app.pages.incidents.incidents import incidents_page
from remediation_app.pages.login.login import login_page
from remediation_app.pages.page import add_pages
from remediation_app.pages.reliability.reliability import reliability_page
from remediation_app.pages.terminal.terminal import terminal_page
from remediation_app.services import metrics
from remediation_app.services.alertmanager.sync import run_sync
from remediation_app.services.alerts.ingest import prune_notifications
from remediation_app.services.auth import prune_login_attempts
from remediation_app.services.diagnostics.runner import run_diagnostics
from remediation_app.services.events import bus
from remediation_app.services.llm.sdk import warm_up
from remediation_app.services.llm.worker import run_workers
from remediation_app.services.memory.verification import run_verifier
from remediation_app.services.notify.worker import run_notify_worker
from remediation_app.services.terminal.sessions import close_abandoned_sessions
from remediation_app.services.users import ensure_first_admin
from remediation_app.settings import get_settings

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
            if closed := await close_abandoned_sessions():
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
        asyncio.create_task(run_workers(), name="analysis-worker"),
        asyncio.create_task(run_diagnostics(), name="diagnostics-runner"),
        asyncio.create_task(run_sync(), name="alertmanager-sync"),
        asyncio.create_task(run_notify_worker(), name="notify-worker"),
        asyncio.create_task(run_verifier(), name="fix-verification"),
    ]
    # LiteLLM weighs ~140 MB resident: import it ahead of the first analysis only when there is a
    # provider to analyse with (one added later imports it on first use, in a thread).
    from remediation_app.services.llm.providers import any_provider

    try:
        async with async_session() as session:
            configured = await any_provider(session)
    except TRANSIENT_DB_ERRORS:
        configured = True  # cannot tell: keep the first analysis fast
    if configured:
        tasks.append(asyncio.create_task(warm_up(), name="litellm-import"))
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await dispose_engines()


app = rx.App(api_transformer=build_api)
# Each page's route, title, role and on_load are beside its view (@page, pages/page.py). Admin pages:
# require_admin only redirects; every handler (load included) checks the admin itself.
add_pages(
    app,
    login_page,
    dashboard,
    alert_page,
    incidents_page,
    incident_page,
    reliability_page,
    admin_users_page,
    admin_rules_page,
    admin_audit_page,
    admin_settings_page,
    admin_providers_page,
    admin_datasources_page,
    admin_alertmanagers_page,
    admin_notifications_page,
    terminal_page,
    admin_servers_page,
    admin_policy_page,
    account_page,
    admin_sessions_page,
    admin_evals_page,
)
app.register_lifespan_task(lifespan)
