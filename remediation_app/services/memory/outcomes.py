"""An alert's outcome: what a person recorded once it was handled (was the analysis right, the actual
root cause, the fix and its commands, tags), one per alert, editable, audited, with its author and
time. The API (POST /api/alerts/{id}/outcome) and the alert and incident pages both record through
`record_outcome`; the form is prefilled from what happened (prefill.py).

The fix's time is its last command whose time is known (typed in a terminal opened from the alert,
or an approved diagnostic), else when the outcome was first recorded; verification.py judges the fix
from there. An edit of the fix or its commands sends it back to be judged again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.models import Alert, FixStatus, IncidentOutcome, User, Verdict, utcnow
from remediation_app.services import audit
from remediation_app.services.events import bus
from remediation_app.services.investigation.related import duration_text
from remediation_app.services.llm.jobs import analyses_for
from remediation_app.services.memory.prefill import Happened, what_happened
from remediation_app.services.records import columns, isoformat
from remediation_app.services.text import storable_text
from remediation_app.settings import get_settings

TOPIC = "memory"  # bus events after an outcome or a fix's verdict changed (ids: alert ids)
VERDICTS = tuple(v.value for v in Verdict)
TEXT_MAX = 10_000  # characters of the root cause, and of the fix
COMMANDS_MAX = 50
COMMAND_MAX = 2_000
TAGS_MAX = 20
TAG_MAX = 50
DESCRIPTION_MAX = 4_000  # characters of the alert's description copied for the memory
LABELS_MAX = 100  # labels copied for the memory (those with a longer name or value are left out)
LABEL_NAME_MAX, LABEL_VALUE_MAX = 200, 1_000
_TAG = re.compile(r"[\w][\w.:/+-]*")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


class OutcomeRefused(Exception):
    """An outcome that cannot be recorded: `status` for the API (404 no such alert, 422 bad field),
    `field` the input at fault."""

    def __init__(self, status: int, message: str, field: str = "") -> None:
        super().__init__(message)
        self.status, self.message, self.field = status, message, field


@dataclass(frozen=True)
class OutcomeInput:
    verdict: str
    root_cause: str
    fix: str
    commands: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()


def _text(value: str, field: str) -> str:
    if len(value) > TEXT_MAX:
        raise OutcomeRefused(422, f"{field}: at most {TEXT_MAX} characters", field)
    return storable_text(value.strip())


def checked_input(
    *,
    verdict: str,
    root_cause: str = "",
    fix: str = "",
    commands: list[str] | None = None,
    tags: list[str] | None = None,
) -> OutcomeInput:
    """The input normalized (commands stripped, blank ones dropped; tags lower case, spaces as dashes,
    each once), or OutcomeRefused(422) naming the field."""
    if verdict not in VERDICTS:
        raise OutcomeRefused(422, f"verdict: one of {', '.join(VERDICTS)}", "verdict")
    kept: list[str] = []
    for number, command in enumerate(commands or [], 1):
        if len(command) > COMMAND_MAX:
            raise OutcomeRefused(422, f"commands: command {number} is longer than {COMMAND_MAX} characters", "commands")
        if _CONTROL.search(command):
            raise OutcomeRefused(
                422, f"commands: command {number} holds a line break or control character (one line each)", "commands"
            )
        if command.strip():
            kept.append(storable_text(command.strip()))
    if len(kept) > COMMANDS_MAX:
        raise OutcomeRefused(422, f"commands: at most {COMMANDS_MAX}", "commands")
    names: dict[str, None] = {}
    for tag in tags or []:
        name = "-".join(tag.strip().lower().split())
        if not name:
            continue
        if len(name) > TAG_MAX or not _TAG.fullmatch(name):
            raise OutcomeRefused(
                422,
                f"tags: {name[:TAG_MAX]!r} is not a tag (letters, digits and . : / + - _, at most {TAG_MAX})",
                "tags",
            )
        names.setdefault(name, None)
    if len(names) > TAGS_MAX:
        raise OutcomeRefused(422, f"tags: at most {TAGS_MAX}", "tags")
    return OutcomeInput(verdict, _text(root_cause, "root_cause"), _text(fix, "fix"), tuple(kept), tuple(names))


async def get_outcome(session: AsyncSession, alert_id: int) -> IncidentOutcome | None:
    rows = await session.exec(select(IncidentOutcome).where(col(IncidentOutcome.alert_id) == alert_id))
    return rows.first()


def _fix_time(row: IncidentOutcome, happened: Happened) -> None:
    last = happened.last_time_of(list(row.commands))
    if last is not None:
        row.fix_at, row.fix_from = last.at, last.source
    else:
        row.fix_at, row.fix_from = row.created_at, "recorded"


def _judge_again(row: IncidentOutcome) -> None:
    row.fix_status, row.fix_detail, row.fix_evidence, row.fix_checked_at = FixStatus.PENDING.value, "", {}, None


def _bounded_labels(labels: dict[str, str]) -> dict[str, str]:
    """What the memory compares labels on: the first LABELS_MAX short ones (an alert may carry
    megabytes of labels)."""
    kept: dict[str, str] = {}
    for name, value in labels.items():
        if len(kept) >= LABELS_MAX:
            break
        if len(name) <= LABEL_NAME_MAX and len(str(value)) <= LABEL_VALUE_MAX:
            kept[storable_text(name)] = storable_text(str(value))
    return kept


async def _new_row(session: AsyncSession, alert: Alert, user: User) -> IncidentOutcome:
    assert alert.id is not None
    latest = await analyses_for(session, alert.id, limit=1)
    analysis = latest[0] if latest else None
    now = utcnow()
    annotations = alert.annotations or {}
    return IncidentOutcome(
        alert_id=alert.id,
        incident_id=alert.incident_id,
        analysis_id=analysis.id if analysis else None,
        fingerprint=alert.fingerprint,
        alertname=alert.alertname,
        rule_id=alert.matched_rule_id,
        rule_name=alert.matched_rule_name,
        provider_name=analysis.provider_name if analysis else "",
        model=analysis.model if analysis else "",
        labels=_bounded_labels(alert.labels or {}),
        summary=alert.summary,
        description=storable_text(str(annotations.get("description", ""))[:DESCRIPTION_MAX]),
        verdict="",
        created_by=user.username,
        created_by_id=user.id,
        created_at=now,
        updated_by=user.username,
        updated_at=now,
    )


FIELDS = ("verdict", "root_cause", "fix", "commands", "tags")


async def _record_once(
    session: AsyncSession, alert_id: int, data: OutcomeInput, user: User, address: str, happened: Happened
) -> tuple[IncidentOutcome, bool]:
    alert = await session.get(Alert, alert_id)
    if alert is None:
        raise OutcomeRefused(404, "alert not found", "alert_id")
    row = await get_outcome(session, alert_id)
    created = row is None
    if row is None:
        row = await _new_row(session, alert, user)
    values: dict[str, Any] = {
        "verdict": data.verdict,
        "root_cause": data.root_cause,
        "fix": data.fix,
        "commands": list(data.commands),
        "tags": list(data.tags),
    }
    changed = [name for name in FIELDS if getattr(row, name) != values[name]]
    if not created and not changed:
        return row, False  # the same outcome again: nothing to store or audit
    for name, value in values.items():
        setattr(row, name, value)
    if not created:
        row.updated_by, row.updated_at, row.edits = user.username, utcnow(), row.edits + 1
    # Only a new fix (or new commands) is timed and judged again: an edit of the verdict or the tags
    # keeps the fix's verdict (what happened may read differently now: recordings rotated, more commands).
    if created or {"fix", "commands"} & set(changed):
        _fix_time(row, happened)
        _judge_again(row)
    session.add(row)
    details = {
        "alert_id": alert_id,
        "verdict": data.verdict,
        "changed": changed,
        "commands": len(data.commands),
        "tags": list(data.tags),
    }
    audit.record(
        session,
        action="outcome.record" if created else "outcome.edit",
        actor=user,
        target=f"alert {alert_id}: {alert.alertname}",
        address=address,
        details=details,
    )
    await session.commit()
    await session.refresh(row)
    return row, created


async def record_outcome(
    session: AsyncSession, alert_id: int, data: OutcomeInput, *, user: User, address: str = ""
) -> tuple[IncidentOutcome, bool]:
    """Record or change the alert's outcome (committed, audited); returns it and whether it is new.
    The same outcome sent again changes nothing. Raises OutcomeRefused(404) for no such alert."""
    happened = await what_happened(alert_id)
    try:
        row, created = await _record_once(session, alert_id, data, user, address, happened)
    except IntegrityError:
        # Two first recordings at once: the other one is stored; this one becomes its edit.
        await session.rollback()
        row, created = await _record_once(session, alert_id, data, user, address, happened)
    await bus.publish(TOPIC, ids=[alert_id], count=1, incident_id=row.incident_id)
    return row, created


def span_text(delta: timedelta) -> str:
    """A duration as on-call people say it (related.duration_text), in seconds below a minute."""
    seconds = round(delta.total_seconds())
    return f"{max(0, seconds)}s" if seconds < 60 else duration_text(delta)


def waiting_text(row: IncidentOutcome) -> str:
    """What a pending verdict waits for (shown until verification.py decides)."""
    settings = get_settings()
    window = timedelta(minutes=settings.fix_verify_window_minutes)
    hold = timedelta(minutes=settings.fix_hold_minutes)
    by = f" by {(row.fix_at + window).strftime('%Y-%m-%d %H:%M UTC')}" if row.fix_at else ""
    return (
        f"Waiting: the alert must resolve{by} (within {span_text(window)} of the fix) and stay resolved "
        f"for {span_text(hold)}."
    )


def outcome_public(row: IncidentOutcome) -> dict[str, Any]:
    """The API's and the pages' view of an outcome (its text is what people wrote: shown as text)."""
    pending = row.fix_status == FixStatus.PENDING.value
    return {
        **columns(row, "id", "alert_id", "incident_id", "analysis_id", "alertname", "verdict", "root_cause", "fix"),
        "commands": list(row.commands or []),
        "tags": list(row.tags or []),
        **columns(row, "rule_name", "provider_name", "model", "created_by", "updated_by", "edits"),
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
        "fix_check": {
            "status": row.fix_status,
            "detail": waiting_text(row) if pending else row.fix_detail,
            "fix_at": isoformat(row.fix_at),
            "fix_from": row.fix_from,
            "checked_at": isoformat(row.fix_checked_at),
            "evidence": dict(row.fix_evidence or {}),
        },
    }


async def suggestion(alert_id: int, viewer: User) -> dict[str, Any]:
    """What the form is prefilled with for `viewer`: the commands (each with its time and where it
    ran; terminal commands of other people's sessions for admins only) and a fix text from the
    silences and acks."""
    happened = await what_happened(alert_id, viewer)
    return {
        "commands": happened.command_texts(),
        "fix": "\n".join(happened.notes),
        "sources": [
            {"command": c.text, "at": c.at.isoformat(), "source": c.source, "where": c.where} for c in happened.commands
        ],
        "unreadable": happened.unreadable,
    }
