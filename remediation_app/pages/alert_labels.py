"""The alert page's Labels and Annotations: a bounded page of each, with Previous / Next and a link
to the full alert as JSON (GET /api/alerts/{id}, the login cookie authenticates it).

An alert may carry 100,000 labels or a 9 MB value (services/alert_text.py): the state holds one
page of PAIRS_PAGE_SIZE pairs per table, names and values cut (the row says how much), so no
websocket frame carries more than that. AlertPageState's live refresh computes the pages (outside
the state lock) and shows them with `_show`; Previous / Next load the alert again, as the logged-in
user, and compute only the page asked for.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from remediation_app.db import TRANSIENT_DB_ERRORS, async_session
from remediation_app.services.alert_text import PairsPage, pairs_page
from remediation_app.services.alerts import get_alert
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


def _value(kv: Any) -> rx.Component:
    return rx.table.cell(
        rx.text(kv[1], white_space="pre-wrap", word_break="break-word", class_name="kv-value"),
        rx.cond(
            kv[2] != "",
            rx.text(
                "… cut: ",
                kv[2],
                " (see Full alert as JSON)",
                size="1",
                color_scheme="gray",
                class_name="kv-cut",
            ),
        ),
    )


def _kv_table(rows: rx.Var, id_: str) -> rx.Component:
    return rx.table.root(
        rx.table.body(
            rx.foreach(
                rows,
                lambda kv: rx.table.row(
                    rx.table.row_header_cell(rx.code(kv[0], word_break="break-all"), width="14em"),
                    _value(kv),
                ),
            ),
        ),
        id=id_,
        size="1",
        width="100%",
    )


def _pager(kind: str) -> rx.Component:
    s = AlertLabelsState
    page: rx.Var[int] = getattr(s, f"{kind}_page")
    pages: rx.Var[int] = getattr(s, f"{kind}_pages")
    return rx.cond(
        pages > 1,
        rx.hstack(
            rx.button(
                "Previous",
                on_click=s.turn_page(kind, -1),
                disabled=page == 0,
                variant="soft",
                size="1",
                id=f"{kind}-prev-page",
            ),
            rx.text(f"Page {page + 1} of {pages}", size="2", id=f"{kind}-page"),
            rx.button(
                "Next",
                on_click=s.turn_page(kind, 1),
                disabled=page + 1 >= pages,
                variant="soft",
                size="1",
                id=f"{kind}-next-page",
            ),
            align="center",
            spacing="3",
        ),
    )


def pairs_section(title: str, kind: str, alert_id: rx.Var[str]) -> rx.Component:
    """Labels or annotations (`kind`): the count shown, one page of the table, the pager."""
    s = AlertLabelsState
    return rx.vstack(
        rx.hstack(
            rx.heading(title, size="4"),
            rx.text(getattr(s, f"{kind}_showing"), size="2", color_scheme="gray", id=f"{kind}-showing"),
            rx.link(
                "Full alert as JSON",
                href="/api/alerts/" + alert_id,
                is_external=True,
                size="2",
                id=f"{kind}-json-link",
            ),
            align="baseline",
            spacing="4",
        ),
        rx.cond(s.error != "", rx.callout(s.error, color_scheme="red", size="1")),
        _kv_table(getattr(s, kind), kind),
        _pager(kind),
        width="100%",
        spacing="2",
        margin_top="1.25em",
    )
