"""The "Seen before" section (alert and incident pages): "Seen N times before; last fixed by ...
(verified)" and the similar past incidents, each with what people recorded and the verdict on its
fix, linking to its alert. The state is similar_state.py (loaded with the Outcome section's). Text
people wrote is shown as text."""

from __future__ import annotations

import reflex as rx

from remediation_app.components.panels import section
from remediation_app.pages.alerts.similar_state import SimilarRow
from remediation_app.pages.alerts.similar_state import SimilarState as S

FIX_COLORS = (("verified", "green"), ("failed", "red"), ("unverified", "amber"), "gray")
VERDICT_COLORS = (("right", "green"), ("partly", "amber"), ("wrong", "red"), "gray")


def fix_badge(status: rx.Var, **props: object) -> rx.Component:
    """The engine's verdict on a fix: verified, failed, unverified or pending."""
    return rx.badge("fix ", status, color_scheme=rx.match(status, *FIX_COLORS), variant="soft", **props)


def verdict_badge(verdict: rx.Var, **props: object) -> rx.Component:
    """Whether the analysis was judged right."""
    return rx.badge("analysis ", verdict, color_scheme=rx.match(verdict, *VERDICT_COLORS), variant="outline", **props)


def _seen_line() -> rx.Component:
    times = rx.cond(S.seen == 1, " time", " times")
    last = rx.cond(
        S.last_fix != "",
        rx.text.span(
            "; last fixed by ",
            rx.code(S.last_fix, word_break="break-word"),
            " (",
            rx.link(S.last_fix_status, href="/alerts/" + S.last_fix_alert),
            ")",
        ),
    )
    return rx.text(
        rx.cond(S.seen > 0, rx.text.span("Seen ", S.seen, times, " before"), rx.text.span("Not seen before")),
        last,
        rx.cond((S.last_fix == "") & (S.rows.length() > 0), rx.text.span("; no similar incident has a recorded fix")),  # type: ignore[attr-defined]
        size="2",
        id="seen-before",
    )


def _row(row: SimilarRow) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.link(row.alertname, href="/alerts/" + row.alert_id, weight="medium", class_name="similar-link"),
                fix_badge(row.fix_status, class_name="similar-fix-status"),
                verdict_badge(row.verdict),
                rx.text(row.why, size="1", color_scheme="gray"),
                align="center",
                spacing="2",
                wrap="wrap",
            ),
            rx.text(row.summary, size="2", color_scheme="gray", word_break="break-word"),
            rx.cond(row.root_cause != "", rx.text("Root cause: ", row.root_cause, size="2", word_break="break-word")),
            rx.cond(row.fix != "", rx.text("Fix: ", rx.code(row.fix), size="2", word_break="break-word")),
            rx.text("Recorded by ", row.recorded_by, " ", rx.moment(row.recorded_at, from_now=True), size="1"),
            spacing="1",
            width="100%",
        ),
        width="100%",
        class_name="similar-incident",
    )


def similar_section() -> rx.Component:
    return section(
        "Seen before",
        _seen_line(),
        rx.cond(
            S.rows.length() > 0,  # type: ignore[attr-defined]
            rx.vstack(rx.foreach(S.rows, _row), width="100%", spacing="2", id="similar-incidents"),
            rx.text(
                "No past incident with a recorded outcome looks like this one.",
                size="2",
                color_scheme="gray",
                id="no-similar",
            ),
        ),
        id="similar-section",
    )
