"""The alert page's "Related alerts and history" (the view is related.py): the alerts firing now at
the same place (instance, job, namespace, service or pod, as the investigation looks for them) and
the other firings of the same alertname on the same instance: how many, when, how long, flapping.

Both come from services/investigation/related.py, the queries the investigation's evidence uses,
bounded there (RELATED_MAX alerts, HISTORY_MAX occurrences read); the page shows at most
HISTORY_SHOWN occurrences. AlertPageState's live refresh loads them with the alert (outside the
state lock) and shows them with `_show`; there are no handlers here.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import reflex as rx
from sqlmodel.ext.asyncio.session import AsyncSession

from remediation_app.models import Alert
from remediation_app.services.alert_text import clipped
from remediation_app.services.investigation import related

HISTORY_SHOWN = 10
NAME_MAX = 255  # alertnames and label values as the list shows them
SUMMARY_MAX = 200


@dataclasses.dataclass
class RelatedRow:
    id: str = ""
    alertname: str = ""
    severity: str = ""
    starts_at: str = ""
    shared: str = ""  # the labels it shares with the alert: "instance, job"
    summary: str = ""


@dataclasses.dataclass
class FiringRow:
    id: str = ""
    starts_at: str = ""
    ends_at: str = ""
    status: str = ""
    lasted: str = ""  # "12m", or "" while it fires


@dataclasses.dataclass
class RelatedView:
    related: list[RelatedRow] = dataclasses.field(default_factory=list)
    related_note: str = ""  # "and 3 more", nothing to match on, the scan's bound
    firings: list[FiringRow] = dataclasses.field(default_factory=list)
    history: str = ""  # "4 other firings; each lasted: median 12m, longest 1h05m"
    flapping: bool = False
    # A change to one of these refreshes the page too (AlertPageState.watch).
    related_ids: frozenset[int] = frozenset()


def _related_view(found: related.RelatedAlerts, place: dict[str, str]) -> tuple[list[RelatedRow], str]:
    rows = [
        RelatedRow(
            id=str(item["id"]),
            alertname=clipped(str(item["alertname"]), NAME_MAX),
            severity=clipped(str(item["severity"]), NAME_MAX),
            starts_at=str(item["starts_at"]),
            shared=", ".join(item["shared"]),
            summary=clipped(str(item["summary"]), SUMMARY_MAX),
        )
        for item in found.alerts
    ]
    if not place:
        note = "The alert has no instance, job, namespace, service or pod label to match on."
    elif found.found > len(rows):
        note = f"and {found.found - len(rows)} more"
    elif found.scanned >= related.SCAN_MAX:
        note = f"(the {related.SCAN_MAX} most recently notified firing alerts were searched)"
    else:
        note = ""
    return rows, note


def _history_text(found: related.History) -> str:
    count = len(found.occurrences)
    if not count:
        return "No other firing of this alert on this instance."
    text = (
        f"{count}{'+' if found.capped else ''} other firing{'' if count == 1 else 's'} of this alert on this instance"
    )
    if found.median_s is not None and found.longest_s is not None:
        median = related.duration_text(timedelta(seconds=found.median_s))
        longest = related.duration_text(timedelta(seconds=found.longest_s))
        text += f"; each lasted: median {median}, longest {longest}"
    return text + "."


def _firing_row(item: dict[str, object]) -> FiringRow:
    lasted = item.get("lasted_s")
    return FiringRow(
        id=str(item["id"]),
        starts_at=str(item["starts_at"]),
        ends_at=str(item["ends_at"] or ""),
        status=str(item["status"]),
        lasted=related.duration_text(timedelta(seconds=lasted)) if isinstance(lasted, int) else "",
    )


async def load_related(session: AsyncSession, alert: Alert) -> RelatedView:
    """The section's content for `alert` (two bounded queries)."""
    place = related.place_of(alert)
    found = await related.related_alerts(session, place, exclude_id=alert.id) if place else related.RelatedAlerts("")
    rows, note = _related_view(found, place)
    history = await related.alert_history(session, alert.alertname, alert.instance, exclude_id=alert.id)
    return RelatedView(
        related=rows,
        related_note=note,
        firings=[_firing_row(item) for item in history.occurrences[:HISTORY_SHOWN]],
        history=_history_text(history),
        flapping=history.flapping,
        related_ids=frozenset(int(row.id) for row in rows),
    )


class AlertRelatedState(rx.State):
    related: list[RelatedRow] = []
    related_note: str = ""
    firings: list[FiringRow] = []
    history: str = ""
    flapping: bool = False

    def _forget(self) -> None:
        self._show(RelatedView())

    def _show(self, view: RelatedView) -> None:
        self.related, self.related_note = view.related, view.related_note
        self.firings, self.history, self.flapping = view.firings, view.history, view.flapping
