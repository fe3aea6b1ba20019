"""Silences made from the engine in Alertmanager (API v2), their expiry, and the active silences
covering an alert (ours and those made elsewhere).

Alertmanager is written first: a silence it refused, or could not be asked about, leaves no row
(and when the row cannot be stored after all, the silence is expired again). Every silence and
expiry is audited. Any logged-in user may silence: this is the on-call console.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.crypto import DecryptionError
from remediation_app.db import TRANSIENT_DB_ERRORS
from remediation_app.models import Alert, Silence, User, utcnow
from remediation_app.services import audit, metrics
from remediation_app.services.alertmanager import connections
from remediation_app.services.alertmanager.checks import (
    COMMENT_MAX,
    MATCHERS_MAX,
    VALUE_MAX,
    Matcher,
    SilenceRefused,
    check_comment,
    check_duration,
    check_matchers,
    covers,
    matchers_for,
    refused_by,
)
from remediation_app.services.alertmanager.client import (
    AlertmanagerClient,
    AlertmanagerConfig,
    AlertmanagerError,
    AmSilence,
)
from remediation_app.services.alerts.store import get_alert

__all__ = [  # the alert page and the API use these names from here (Matcher and the checks live in checks.py)
    "COMMENT_MAX",
    "DURATION_PRESETS_MINUTES",
    "MATCHERS_MAX",
    "VALUE_MAX",
    "Matcher",
    "SilenceRefused",
    "SilenceView",
    "expire_silence",
    "matchers_for",
    "silence_alert",
    "silences_for_alert",
]
log = logging.getLogger(__name__)

DURATION_PRESETS_MINUTES: tuple[int, ...] = (30, 60, 120, 240, 480, 1440)
SILENCE_ID_RE = re.compile(r"^[A-Za-z0-9-]{1,64}$")
# Above this many silences, matching them against an alert's labels runs in a worker thread.
MATCH_IN_THREAD = 500


@dataclass
class SilenceView:
    silence_id: str
    alertmanager: str
    matchers: list[Matcher] = field(default_factory=list)
    comment: str = ""
    created_by: str = ""
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    state: str = "active"
    kind: str = "external"  # "silence" | "ack" | "external" (made outside the engine)


# ---- where --------------------------------------------------------------------------------------


async def alert_or_404(session: AsyncSession, alert_id: int) -> Alert:
    alert = await get_alert(session, alert_id)
    if alert is None:
        raise SilenceRefused("no such alert", 404)
    return alert


async def alertmanager_for(session: AsyncSession, alert: Alert) -> AlertmanagerConfig:
    """The Alertmanager the alert came from (its externalURL), else the default one."""
    try:
        config = await connections.for_external_url(session, alert.external_url)
    except DecryptionError as exc:
        raise SilenceRefused(f"{exc}: an admin must enter the Alertmanager's credential again", 409) from None
    if config is None:
        raise SilenceRefused(
            "no Alertmanager is configured: set ALERTMANAGER_URL or add one on the Alertmanagers admin page", 409
        )
    return config


# ---- create and expire ----------------------------------------------------------------------------


async def create_silence(
    session: AsyncSession,
    alert: Alert,
    *,
    user: User,
    kind: str,
    minutes: float,
    comment: str,
    matchers: list[Matcher],
    action: str,
    address: str = "",
) -> Silence:
    """Make the silence in Alertmanager, then its row and audit event; commits. Checked input only."""
    config = await alertmanager_for(session, alert)
    starts = utcnow()
    ends = starts + timedelta(minutes=minutes)
    sent = [m.to_api() for m in matchers]
    try:
        async with AlertmanagerClient(config) as client:
            silence_id = await client.create_silence(
                sent, starts_at=starts, ends_at=ends, created_by=user.username, comment=comment
            )
    except AlertmanagerError as exc:
        raise refused_by(exc) from None
    row = Silence(
        alertmanager=config.name,
        silence_id=silence_id,
        alert_id=alert.id,
        kind=kind,
        matchers=sent,
        comment=comment,
        created_by=user.username,
        starts_at=starts,
        ends_at=ends,
        state="active",
        created_at=starts,
    )
    session.add(row)
    if kind == "ack":
        alert.acked_by, alert.acked_at = user.username, starts
        session.add(alert)
    details = {"alert_id": alert.id, "alertmanager": config.name, "silence_id": silence_id, "matchers": sent}
    audit.record(session, action=action, actor=user, target=f"alert {alert.id}", address=address, details=details)
    try:
        await session.commit()
    except Exception as exc:
        # Nothing half done: the silence Alertmanager holds goes too.
        await session.rollback()
        await _undo(config, silence_id)
        if kind == "ack" and isinstance(exc, sa.exc.IntegrityError):  # uq_silences_active_ack
            raise SilenceRefused("acknowledged by someone else meanwhile", 409) from None
        raise
    metrics.record_silence("created", kind)
    return row


async def clear_ended_acks(session: AsyncSession, alert_ids: Iterable[int | None]) -> None:
    """An alert is acknowledged while one of its acks is active: "acked by" is cleared (in the
    caller's transaction) on those of `alert_ids` with none left, so the board stops calling them
    acked and the alert page offers Ack again."""
    ids = sorted({alert_id for alert_id in alert_ids if alert_id is not None})
    if not ids:
        return
    alerts, silences = Alert.__table__, Silence.__table__  # type: ignore[attr-defined]
    active_ack = sa.exists().where(
        silences.c.alert_id == alerts.c.id, silences.c.kind == "ack", silences.c.state == "active"
    )
    await session.exec(
        sa.update(alerts)
        .where(alerts.c.id.in_(ids), alerts.c.acked_by != "", ~active_ack)
        .values(acked_by="", acked_at=None)
    )


async def _undo(config: AlertmanagerConfig, silence_id: str) -> None:
    try:
        async with AlertmanagerClient(config) as client:
            await client.expire_silence(silence_id)
    except AlertmanagerError:
        log.error("a silence made in Alertmanager could not be recorded nor expired", extra={"silence_id": silence_id})


async def silence_alert(
    session: AsyncSession,
    alert_id: int,
    *,
    user: User,
    duration_minutes: int,
    comment: str,
    matchers: list[Matcher] | None = None,
    address: str = "",
) -> Silence:
    """Silence an alert for `duration_minutes` (matchers: the alert's labels when None); commits."""
    text = check_comment(comment)
    minutes = check_duration(duration_minutes)
    alert = await alert_or_404(session, alert_id)
    chosen = check_matchers(list(matchers) if matchers is not None else matchers_for(alert))
    return await create_silence(
        session,
        alert,
        user=user,
        kind="silence",
        minutes=minutes,
        comment=text,
        matchers=chosen,
        action="silence.create",
        address=address,
    )


async def _our_row(session: AsyncSession, silence_id: str) -> Silence | None:
    rows = await session.exec(select(Silence).where(col(Silence.silence_id) == silence_id).order_by(col(Silence.id)))
    return rows.first()


async def _find_elsewhere(session: AsyncSession, silence_id: str) -> tuple[AlertmanagerConfig, AmSilence]:
    """A silence made outside the engine: asked of each connection (they are few)."""
    try:
        configs = await connections.enabled_alertmanagers(session)
    except DecryptionError as exc:
        raise SilenceRefused(str(exc), 409) from None
    for config in configs:
        try:
            async with AlertmanagerClient(config) as client:
                found = next((s for s in await client.silences() if s.id == silence_id), None)
        except AlertmanagerError as exc:
            raise refused_by(exc) from None
        if found is not None:
            return config, found
    raise SilenceRefused("no such silence", 404)


async def expire_silence(session: AsyncSession, silence_id: str, *, user: User, address: str = "") -> Silence:
    """Expire a silence by Alertmanager's id (ours, or one made elsewhere: recorded as "external");
    an expired one is answered as it is. Commits."""
    if not SILENCE_ID_RE.match(silence_id):
        raise SilenceRefused("no such silence", 404)
    row = await _our_row(session, silence_id)
    if row is not None and row.state == "expired":
        return row
    if row is None:
        config, found = await _find_elsewhere(session, silence_id)
        row = Silence(
            alertmanager=config.name,
            silence_id=silence_id,
            kind="external",
            matchers=found.matchers[:MATCHERS_MAX],
            comment=found.comment[:COMMENT_MAX],
            created_by=found.created_by[:150],
            starts_at=found.starts_at or utcnow(),
            ends_at=found.ends_at or utcnow(),
            created_at=utcnow(),
        )
    else:
        config_or_none = await _connection_of(session, row)
        if config_or_none is None:
            raise SilenceRefused(f"the Alertmanager {row.alertmanager!r} this silence was made in is gone", 409)
        config = config_or_none
    try:
        async with AlertmanagerClient(config) as client:
            await client.expire_silence(silence_id)
    except AlertmanagerError as exc:
        if not (exc.kind == "query" and exc.status == 404 and row.id is not None):
            raise refused_by(exc) from None
        # Alertmanager no longer knows it (its state was lost): it silences nothing any more.
    now = utcnow()
    row.state, row.expired_at, row.expired_by = "expired", now, user.username
    row.ends_at = min(row.ends_at, now)
    session.add(row)
    if row.kind == "ack":
        await clear_ended_acks(session, [row.alert_id])
    details = {"alert_id": row.alert_id, "alertmanager": row.alertmanager, "kind": row.kind}
    audit.record(session, action="silence.expire", actor=user, target=silence_id, address=address, details=details)
    await session.commit()
    metrics.record_silence("expired", row.kind)
    return row


async def _connection_of(session: AsyncSession, row: Silence) -> AlertmanagerConfig | None:
    try:
        return await connections.by_name(session, row.alertmanager)
    except DecryptionError as exc:
        raise SilenceRefused(str(exc), 409) from None


# ---- what covers an alert -------------------------------------------------------------------------


def _covering(silences: list[AmSilence], labels: dict[str, str]) -> list[tuple[AmSilence, list[Matcher]]]:
    found = []
    for silence in silences:
        if silence.state != "active":
            continue
        matchers = [Matcher.from_api(m) for m in silence.matchers]
        if covers(matchers, labels):
            found.append((silence, matchers))
    return found


async def silences_for_alert(session: AsyncSession, alert_id: int) -> list[SilenceView]:
    """The active silences covering the alert in its Alertmanager (ours and others'), ending first
    first; [] when no Alertmanager is configured."""
    alert = await alert_or_404(session, alert_id)
    try:
        config = await alertmanager_for(session, alert)
    except SilenceRefused as exc:
        if exc.status == 409 and "no Alertmanager" in exc.message:
            return []
        raise
    try:
        async with AlertmanagerClient(config) as client:
            silences = await client.silences()
    except AlertmanagerError as exc:
        raise refused_by(exc) from None
    labels = dict(alert.labels or {})
    if len(silences) > MATCH_IN_THREAD:
        covering = await asyncio.to_thread(_covering, silences, labels)
    else:
        covering = _covering(silences, labels)
    ids = [silence.id for silence, _ in covering]
    ours = {}
    if ids:
        try:
            rows = await session.exec(
                select(Silence).where(col(Silence.alertmanager) == config.name, col(Silence.silence_id).in_(ids))
            )
            ours = {row.silence_id: row.kind for row in rows.all()}
        except TRANSIENT_DB_ERRORS:
            raise SilenceRefused("database unavailable, retry later", 503) from None
    views = [
        SilenceView(
            silence_id=silence.id,
            alertmanager=config.name,
            matchers=matchers,
            comment=silence.comment,
            created_by=silence.created_by,
            starts_at=silence.starts_at,
            ends_at=silence.ends_at,
            state=silence.state,
            kind=ours.get(silence.id, "external"),
        )
        for silence, matchers in covering
    ]
    return sorted(views, key=lambda view: (view.ends_at or utcnow(), view.silence_id))
