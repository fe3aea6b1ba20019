"""The "Seen before" section's state (alert and incident pages; the view is similar.py): how often the
alert was seen before, the last fix of a similar incident (verified first), and the similar past
incidents with what people recorded and the verdict on their fixes.

Loaded by OutcomeState's refresh (outcome_state.py: one live loop for both sections); this state only
shows. What people wrote is untrusted: bounded here, shown as text by the view."""

from __future__ import annotations

import dataclasses

import reflex as rx
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.models import Alert
from remediation_app.services.alert_text import clipped
from remediation_app.services.memory.similarity import (
    SimilarIncident,
    fix_line,
    headline,
    seen_before,
    similar_incidents,
)

TEXT_MAX = 400
SHOWN = 5


@dataclasses.dataclass
class SimilarRow:
    alert_id: str = ""
    alertname: str = ""
    summary: str = ""
    why: str = ""  # "same alertname; shares instance=db-1:9100"
    verdict: str = ""
    root_cause: str = ""
    fix: str = ""
    fix_status: str = ""
    recorded_by: str = ""
    recorded_at: str = ""


@dataclasses.dataclass
class SimilarView:
    seen: int = 0
    last_fix: str = ""
    last_fix_status: str = ""
    last_fix_alert: str = ""
    rows: list[SimilarRow] = dataclasses.field(default_factory=list)


def similar_row(item: SimilarIncident) -> SimilarRow:
    row = item.outcome
    why = ["same alertname" if item.same_alertname else "another alertname"]
    if item.shared_labels:
        why.append("shares " + ", ".join(item.shared_labels[:4]))
    if item.text_score > 0:
        why.append("similar text")
    return SimilarRow(
        alert_id=str(row.alert_id),
        alertname=clipped(row.alertname, TEXT_MAX),
        summary=clipped(row.summary, TEXT_MAX),
        why=clipped("; ".join(why), TEXT_MAX),
        verdict=row.verdict,
        root_cause=clipped(row.root_cause, TEXT_MAX),
        fix=clipped(fix_line(row), TEXT_MAX),
        fix_status=row.fix_status,
        recorded_by=row.created_by,
        recorded_at=row.created_at.isoformat(),
    )


async def load_similar(session: AsyncSession, alert: Alert) -> SimilarView:
    found = await similar_incidents(session, alert, limit=SHOWN)
    top = headline(await seen_before(session, alert), found)
    return SimilarView(
        seen=int(top["seen"]),
        last_fix=clipped(str(top["last_fix"]), TEXT_MAX),
        last_fix_status=str(top["last_fix_status"]),
        last_fix_alert=str(top["last_fix_alert_id"] or ""),
        rows=[similar_row(item) for item in found],
    )


class SimilarState(rx.State):
    seen: int = 0
    last_fix: str = ""
    last_fix_status: str = ""
    last_fix_alert: str = ""
    rows: list[SimilarRow] = []

    def _forget(self) -> None:
        self._show(SimilarView())

    def _show(self, view: SimilarView) -> None:
        self.seen, self.last_fix, self.last_fix_status = view.seen, view.last_fix, view.last_fix_status
        self.last_fix_alert, self.rows = view.last_fix_alert, view.rows
