"""The alert page's Alertmanager actions (the view is silence.py): the active silences covering the
alert (Expire, after a confirmation), Ack, and the Silence dialog (matchers prefilled from the
alert's labels, each removable and switchable between =, !=, =~ and !~; a duration preset or custom
minutes; a required comment).

The work is services/alertmanager (silences.py, acks.py): Alertmanager is asked first, and a silence
it refused or could not be asked about leaves nothing behind; its reason is shown as it words it.
Every handler checks the login on the server; any logged-in user may silence and ack. Create,
Expire and Ack wait on Alertmanager, so they run as background events (the tab stays live meanwhile)
and refuse a second action while one is under way (`busy`).

The state holds only what is shown: the silences' matchers, comment and author, never a connection's
credentials. AlertPageState's live refresh lists the silences (`load_silences`, outside the lock).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

import reflex as rx
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.db import TRANSIENT_DB_ERRORS, async_session
from remediation_app.services.alert_text import clipped
from remediation_app.services.alertmanager.acks import ack_alert
from remediation_app.services.alertmanager.silences import (
    COMMENT_MAX,
    DURATION_PRESETS_MINUTES,
    MATCHERS_MAX,
    VALUE_MAX,
    Matcher,
    SilenceRefused,
    SilenceView,
    expire_silence,
    matchers_for,
    silence_alert,
    silences_for_alert,
)
from remediation_app.services.alerts.store import get_alert
from remediation_app.services.auth import Forbidden
from remediation_app.state import (
    UNAVAILABLE,
    client_address,
    login_redirect,
    route_alert_id,
    session_user,
    user_from_cookies,
)

OPERATORS = ("=", "!=", "=~", "!~")  # Alertmanager's spelling: (is_equal, is_regex) below
PREFILL_MAX = 20  # matchers prefilled from the alert's labels (the place-naming ones first)
NAME_MAX = 200
# The dialog holds at most MATCHERS_MAX rows (what the service accepts); a label value over
# VALUE_MAX is not prefilled (the service would refuse it; nobody silences by a megabyte).
SHOWN_MAX = 20  # silences listed
MINUTES_DIGITS = 7
FIRST = ("alertname", "instance", "job", "namespace", "service", "pod")
DEFAULT_DURATION = "120"


def duration_label(minutes: int) -> str:
    """30m, 1h, 1d."""
    if minutes % 1440 == 0:
        return f"{minutes // 1440}d"
    return f"{minutes // 60}h" if minutes % 60 == 0 else f"{minutes}m"


# [minutes, label] for the duration picker: 30m, 1h, 2h, 4h, 8h, 1d.
PRESETS = [[str(m), duration_label(m)] for m in DURATION_PRESETS_MINUTES]


@dataclasses.dataclass
class MatcherRow:
    name: str = ""
    value: str = ""
    op: str = "="


@dataclasses.dataclass
class SilenceRow:
    silence_id: str = ""
    kind: str = ""  # silence, ack, external
    matchers: str = ""  # alertname="X", instance=~"web-.*"
    comment: str = ""
    created_by: str = ""
    starts_at: str = ""
    ends_at: str = ""
    link: str = ""  # the silence in Alertmanager's UI ("" without an http(s) URL)


def operator(matcher: Matcher) -> str:
    return {(True, False): "=", (False, False): "!=", (True, True): "=~", (False, True): "!~"}[
        (matcher.is_equal, matcher.is_regex)
    ]


def matcher_of(row: MatcherRow) -> Matcher:
    op = row.op if row.op in OPERATORS else "="
    return Matcher(name=row.name.strip(), value=row.value, is_regex="~" in op, is_equal=not op.startswith("!"))


def matchers_text(matchers: Iterable[Matcher], limit: int = 1_000) -> str:
    """`name="value"` pairs as Alertmanager writes them (the value quoted, `"` and `\\` escaped)."""
    parts = [f"{m.name}{operator(m)}{quoted(m.value)}" for m in matchers]
    return clipped(", ".join(parts), limit)


def quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def prefill(matchers: list[Matcher], labels: int) -> tuple[list[MatcherRow], int]:
    """The dialog's first rows from the service's prefill (`matchers_for`): the labels that name the
    alert's place first, then the others by name, up to PREFILL_MAX; labels with a value over
    VALUE_MAX are left out. Returns the rows and how many of the alert's `labels` were left out."""
    usable = [m for m in matchers if len(m.value) <= VALUE_MAX and 0 < len(m.name) <= NAME_MAX]
    ordered = sorted(usable, key=lambda m: (FIRST.index(m.name) if m.name in FIRST else len(FIRST), m.name))
    rows = [MatcherRow(name=m.name, value=m.value, op=operator(m)) for m in ordered[:PREFILL_MAX]]
    return rows, max(0, labels - len(rows))


def silence_link(base_url: str, silence_id: str) -> str:
    """The silence in Alertmanager's UI under `base_url` (an http(s) URL checked by the caller)."""
    return f"{base_url.rstrip('/')}/#/silences/{quote(silence_id, safe='')}" if base_url else ""


def silence_row(view: SilenceView, base_url: str) -> SilenceRow:
    return SilenceRow(
        silence_id=clipped(view.silence_id, 64),
        kind=view.kind,
        matchers=matchers_text(view.matchers),
        comment=clipped(view.comment, COMMENT_MAX),
        created_by=clipped(view.created_by, 150),
        starts_at=view.starts_at.isoformat() if view.starts_at else "",
        ends_at=view.ends_at.isoformat() if view.ends_at else "",
        link=silence_link(base_url, view.silence_id),
    )


async def load_silences(session: AsyncSession, alert_id: int, base_url: str) -> tuple[list[SilenceRow], str]:
    """The active silences covering the alert, and why they could not be listed ("" if they were)."""
    try:
        views = await silences_for_alert(session, alert_id)
    except SilenceRefused as exc:
        return [], exc.message
    return [silence_row(v, base_url) for v in views[:SHOWN_MAX]], ""


def minutes_of(duration: str, custom: object) -> int | None:
    """The duration in minutes (a preset's, or the custom field's), None when it is not one."""
    text = str(custom if duration == "custom" else duration).strip()
    if not text.isascii() or not text.isdigit() or len(text) > MINUTES_DIGITS or int(text) < 1:
        return None
    return int(text)


def form_refusal(minutes: int | None, comment: str, matchers: list[Matcher]) -> str:
    """What the dialog says before asking Alertmanager ("" when there is nothing to say); the
    service checks the rest (label names, regular expressions, the longest duration)."""
    if minutes is None:
        return "Enter the duration as a whole number of minutes (at least 1)."
    if not comment:
        return "Write a comment: why this alert is silenced."
    if not matchers:
        return "Keep at least one matcher."
    return ""


class AlertSilencesState(rx.State):
    silences: list[SilenceRow] = []
    silences_error: str = ""  # Alertmanager could not be asked which silences cover the alert
    notice: str = ""  # the last action's outcome (silenced, expired, acked)
    error: str = ""
    busy: bool = False
    dialog_open: bool = False
    matchers: list[MatcherRow] = []
    left_out: str = ""  # labels not prefilled
    duration: str = DEFAULT_DURATION  # minutes of a preset, or "custom"
    dialog_error: str = ""
    presets: list[list[str]] = PRESETS
    _shown_alert: int = 0
    _base_url: str = ""  # the alert's Alertmanager (http(s)), for the silences' links

    def _forget(self) -> None:
        self.silences, self.silences_error, self.notice, self.error = [], "", "", ""
        self.dialog_open, self.matchers, self.left_out, self.dialog_error = False, [], "", ""
        self._shown_alert, self._base_url = 0, ""

    def _forget_unless(self, alert_id: int) -> None:
        if self._shown_alert != alert_id:
            self._forget()

    def _show(self, alert_id: int, rows: list[SilenceRow], error: str, base_url: str) -> None:
        self._forget_unless(alert_id)
        self._shown_alert, self._base_url = alert_id, base_url
        self.silences, self.silences_error = rows, error

    async def _reload(self, alert_id: int) -> None:
        """List the silences again (after an action), outside the lock."""
        async with self:
            base_url = self._base_url
        try:
            async with async_session() as session:
                rows, error = await load_silences(session, alert_id, base_url)
        except TRANSIENT_DB_ERRORS:
            return
        async with self:
            if self._shown_alert == alert_id:
                self.silences, self.silences_error = rows, error

    # --- the dialog ---------------------------------------------------------------------------

    @rx.event
    async def open_silence(self):
        """Open the dialog with the alert's labels as matchers."""
        try:
            await session_user(self)
        except Forbidden:
            self._forget()
            return login_redirect(self.router.url.path)
        alert_id = route_alert_id(self)
        try:
            async with async_session() as session:
                alert = await get_alert(session, alert_id) if alert_id else None
        except TRANSIENT_DB_ERRORS:
            self.error = UNAVAILABLE
            return None
        if alert is None:
            return None
        rows, left_out = prefill(matchers_for(alert), len(alert.labels or {}))
        self.matchers, self.duration, self.dialog_error, self.error = rows, DEFAULT_DURATION, "", ""
        self.left_out = (
            f"{left_out} label(s) not prefilled (too many, too long, or not a valid label name)." if left_out else ""
        )
        self.dialog_open = True
        return None

    @rx.event
    def set_dialog_open(self, value: bool):
        """The dialog's own close (Escape, Cancel, outside click); it opens only through open_silence."""
        if not value:
            self.dialog_open, self.dialog_error = False, ""

    @rx.event
    def edit_matcher(self, index: int, field: str, value: str):
        if not (isinstance(index, int) and 0 <= index < len(self.matchers)) or field not in ("name", "value", "op"):
            return
        text = str(value)
        if field == "op" and text not in OPERATORS:
            return
        row = self.matchers[index]
        # Kept one character over the bound, never cut to fit: the service refuses it in its words
        # rather than silencing something other than what was typed.
        setattr(row, field, text[: (NAME_MAX if field == "name" else VALUE_MAX) + 1])
        self.matchers[index] = row

    @rx.event
    def remove_matcher(self, index: int):
        if isinstance(index, int) and 0 <= index < len(self.matchers):
            self.matchers.pop(index)

    @rx.event
    def add_matcher(self):
        if len(self.matchers) < MATCHERS_MAX:
            self.matchers.append(MatcherRow())

    @rx.event
    def choose_duration(self, value: str):
        if value == "custom" or value in {p[0] for p in self.presets}:
            self.duration = value

    @rx.event(background=True)
    async def create_silence(self, form: dict[str, Any]):
        async with self:
            if self.busy or not self.dialog_open:
                return
            cookies, path, alert_id = self.router.headers.cookie, self.router.url.path, route_alert_id(self)
            address = client_address(self)
            matchers = [matcher_of(row) for row in self.matchers]
            minutes = minutes_of(self.duration, (form or {}).get("custom_minutes", ""))
            # One character over the bound: the service refuses it with its own words.
            comment = str((form or {}).get("comment", "")).strip()[: COMMENT_MAX + 1]
            refusal = form_refusal(minutes, comment, matchers)
            self.dialog_error, self.notice, self.error = refusal, "", ""
            if refusal or minutes is None or not alert_id:
                return
            self.busy = True
        try:
            user = await user_from_cookies(cookies)
        except Forbidden:
            async with self:
                self.busy = False
                self._forget()
            yield login_redirect(path)
            return
        notice = error = ""
        try:
            async with async_session() as session:
                silence = await silence_alert(
                    session,
                    alert_id,
                    user=user,
                    duration_minutes=minutes,
                    comment=comment,
                    matchers=matchers,
                    address=address,
                )
            notice = f"Silenced until {silence.ends_at:%Y-%m-%d %H:%M} UTC (silence {silence.silence_id})."
        except SilenceRefused as exc:
            error = exc.message
        except TRANSIENT_DB_ERRORS:
            error = UNAVAILABLE
        finally:
            async with self:
                self.busy, self.notice = False, notice
                if notice:
                    self.dialog_open = False
                elif self.dialog_open:
                    self.dialog_error = error
                else:  # closed meanwhile: the refusal is said on the page
                    self.error = error
        await self._reload(alert_id)

    # --- the page's buttons ---------------------------------------------------------------------

    async def _act(self, what: str, silence_id: str = ""):
        """Expire a silence the tab shows, or ack the alert, as the tab's user."""
        async with self:
            if self.busy:
                return
            cookies, path, alert_id = self.router.headers.cookie, self.router.url.path, route_alert_id(self)
            address = client_address(self)
            if what == "expire" and silence_id not in {s.silence_id for s in self.silences}:
                return
            self.busy, self.notice, self.error = True, "", ""
        try:
            user = await user_from_cookies(cookies)
        except Forbidden:
            async with self:
                self.busy = False
                self._forget()
            yield login_redirect(path)
            return
        notice = error = ""
        try:
            async with async_session() as session:
                if what == "expire":
                    await expire_silence(session, silence_id, user=user, address=address)
                    notice = f"Silence {silence_id} expired."
                else:
                    await ack_alert(session, alert_id, user=user, address=address)
                    notice = "Acknowledged: the alert is silenced until it resolves."
        except SilenceRefused as exc:
            error = exc.message
        except TRANSIENT_DB_ERRORS:
            error = UNAVAILABLE
        finally:
            async with self:
                self.busy, self.notice, self.error = False, notice, error
        await self._reload(alert_id)

    @rx.event(background=True)
    async def expire(self, silence_id: str):
        async for event in self._act("expire", str(silence_id)):
            yield event

    @rx.event(background=True)
    async def ack(self):
        async for event in self._act("ack"):
            yield event
