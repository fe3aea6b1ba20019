"""The state of the alert page's Labels and Annotations (the view is labels.py): a bounded page of
each, turned with Previous / Next.

An alert may carry 100,000 labels or a 9 MB value (services/alert_text.py): the state holds one
page of PAIRS_PAGE_SIZE pairs per table, names and values cut (the row says how much), so no
websocket frame carries more than that. AlertPageState's live refresh computes the pages (outside
the state lock) and shows them with `_show`; Previous / Next load the alert again, as the logged-in
user, and compute only the page asked for.
"""

from __future__ import annotations

import reflex as rx

from remediation_app.db import TRANSIENT_DB_ERRORS, async_session
from remediation_app.services.alert_text import PairsPage, pairs_page
from remediation_app.services.alerts.store import get_alert
from remediation_app.services.auth import Forbidden
from remediation_app.state import UNAVAILABLE, refusal, route_alert_id, session_user

KINDS = ("labels", "annotations")


class AlertLabelsState(rx.State):
    labels: list[list[str]] = []  # [name, value, what was cut ("" nothing)]
    labels_showing: str = ""
    labels_page: int = 0
    labels_pages: int = 1
    annotations: list[list[str]] = []
    annotations_showing: str = ""
    annotations_page: int = 0
    annotations_pages: int = 1
    error: str = ""
    # Which alert the tables show (another alert in this tab starts again at the first pages).
    _shown_alert: int = 0

    def _forget(self) -> None:
        for kind in KINDS:
            self._apply(kind, PairsPage())
            setattr(self, f"{kind}_showing", "")
        self.error, self._shown_alert = "", 0

    def _forget_unless(self, alert_id: int) -> None:
        if self._shown_alert != alert_id:
            self._forget()

    def _pages(self) -> tuple[int, int]:
        """The pages the tables show (read under the lock before computing new ones outside it)."""
        return self.labels_page, self.annotations_page

    def _apply(self, kind: str, page: PairsPage) -> None:
        setattr(self, kind, page.rows)
        setattr(self, f"{kind}_showing", page.showing(kind))
        setattr(self, f"{kind}_page", page.page)
        setattr(self, f"{kind}_pages", page.page_count)

    def _show(self, alert_id: int, pages: tuple[int, int], labels: PairsPage, annotations: PairsPage) -> None:
        """Show pages computed for `pages`, unless the user turned a page meanwhile (that event
        showed its own, newer page)."""
        self._forget_unless(alert_id)
        self._shown_alert = alert_id
        if self._pages() == pages:
            self._apply("labels", labels)
            self._apply("annotations", annotations)

    @rx.event
    async def turn_page(self, kind: str, step: int):
        """Previous (-1) or Next (+1) page of the labels or annotations."""
        if kind not in KINDS or step not in (-1, 1):
            return None
        try:
            await session_user(self)
        except Forbidden:
            self._forget()
            return await refusal(self)
        alert_id = route_alert_id(self)
        if not alert_id or alert_id != self._shown_alert:
            return None
        try:
            async with async_session() as session:
                alert = await get_alert(session, alert_id)
        except TRANSIENT_DB_ERRORS:
            self.error = UNAVAILABLE
            return None
        self.error = ""
        if alert is not None:
            mapping = alert.labels if kind == "labels" else alert.annotations
            self._apply(kind, pairs_page(mapping or {}, int(getattr(self, f"{kind}_page")) + step))
        return None


def compute_pages(pages: tuple[int, int], labels: dict[str, str], annotations: dict[str, str]) -> list[PairsPage]:
    """The pages to show for `pages` (AlertLabelsState._pages()); CPU work, done outside the lock."""
    return [pairs_page(labels or {}, pages[0]), pairs_page(annotations or {}, pages[1])]
