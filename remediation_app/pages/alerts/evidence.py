"""The latest analysis' investigation, above its text on the alert page: "Inconclusive" when the
model said so, how the evidence was gathered, the alert's metric as a chart, the ranked hypotheses
with the evidence for and against each, then every evidence item (its query, window, the text the
model was given, a link to the same query in the datasource). The state is evidence_state.py, held
by AlertAnalysisState (`investigation`); an analysis made before investigations shows nothing here.

Summaries, labels and errors come from datasources and alerts (untrusted): plain text, never HTML.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from remediation_app.components.analysis import fact, facts
from remediation_app.components.badges import evidence_kind_badge, severity_badge
from remediation_app.components.citations import citations, evidence_chip
from remediation_app.components.metric_chart import metric_chart
from remediation_app.pages.alerts.analysis_state import AlertAnalysisState as S


def _gathered(inv: Any) -> rx.Component:
    return rx.vstack(
        rx.cond(inv.consulted != "", rx.text(inv.consulted, size="1", color_scheme="gray", id="evidence-consulted")),
        rx.cond(inv.redactions != "", rx.text(inv.redactions, size="1", color_scheme="gray", id="evidence-redactions")),
        spacing="0",
    )


def _chart(chart: Any) -> rx.Component:
    return rx.cond(
        chart.lines.length() > 0,
        rx.card(
            rx.vstack(
                rx.hstack(
                    evidence_chip(chart.ref, linked=True),
                    rx.text(chart.title, weight="bold", size="2", id="metric-chart-title"),
                    rx.cond(chart.note != "", rx.text(chart.note, size="1", color_scheme="gray")),
                    align="center",
                    spacing="2",
                    wrap="wrap",
                ),
                metric_chart(
                    chart.rows,
                    chart.lines,
                    ticks=chart.ticks,
                    marker=chart.start,
                    has_marker=chart.has_start,
                    marker_label="alert start",
                    threshold=chart.threshold,
                    has_threshold=chart.has_threshold,
                    threshold_label=chart.threshold_label,
                    id="metric-chart",
                ),
                spacing="2",
                width="100%",
            ),
            width="100%",
        ),
    )


def _hypothesis(h: Any) -> rx.Component:
    return rx.list.item(
        rx.vstack(
            rx.hstack(
                rx.text(h.explanation, size="2", white_space="pre-wrap", class_name="hypothesis-explanation"),
                rx.cond(
                    h.confidence != "",
                    rx.badge(h.confidence, color_scheme="gray", variant="soft", class_name="hypothesis-confidence"),
                ),
                align="start",
                spacing="2",
            ),
            rx.hstack(
                citations(
                    h.supports,
                    label="supports",
                    linked=True,
                    color="green",
                    empty="unsupported: no evidence cited",
                    class_name="hypothesis-supports",
                ),
                citations(
                    h.contradicts, label="contradicts", linked=True, color="red", class_name="hypothesis-contradicts"
                ),
                spacing="4",
                wrap="wrap",
            ),
            spacing="1",
        ),
        class_name="hypothesis",
    )


def _hypotheses(hypotheses: Any) -> rx.Component:
    return rx.cond(
        hypotheses.length() > 0,
        rx.vstack(
            rx.text("Hypotheses, most likely first", weight="bold", size="2"),
            rx.list.ordered(rx.foreach(hypotheses, _hypothesis), margin_left="1.25em"),
            spacing="1",
            width="100%",
            id="hypotheses",
        ),
    )


def _related(item: Any) -> rx.Component:
    return rx.cond(
        item.related.length() > 0,
        rx.list.unordered(
            rx.foreach(
                item.related,
                lambda r: rx.list.item(
                    rx.hstack(
                        rx.link(r.alertname, href=r.href, class_name="related-alert-link"),
                        rx.cond(r.severity != "", severity_badge(r.severity)),
                        rx.cond(r.shared != "", rx.text("shares ", r.shared, size="1", color_scheme="gray")),
                        align="center",
                        spacing="2",
                    ),
                    class_name="related-alert",
                ),
            ),
            margin_left="1.25em",
        ),
    )


def _item(item: Any) -> rx.Component:
    return rx.el.div(
        rx.vstack(
            rx.hstack(
                rx.badge(item.ref, variant="solid", class_name="evidence-ref"),
                rx.text(item.title, weight="bold", size="2", class_name="evidence-title"),
                evidence_kind_badge(item.kind),
                rx.cond(item.error != "", rx.badge("failed", color_scheme="red", class_name="evidence-failed")),
                align="center",
                spacing="2",
                wrap="wrap",
            ),
            rx.cond(
                item.query != "",
                rx.code(item.query, variant="ghost", size="2", word_break="break-all", class_name="evidence-query"),
            ),
            facts(
                rx.cond(item.window != "", fact("Window", item.window, "evidence-window")),
                rx.cond(item.datasource != "", fact("Datasource", item.datasource, "evidence-datasource")),
                rx.cond(item.duration != "", fact("Took", item.duration, "evidence-duration")),
            ),
            rx.cond(
                item.error != "",
                rx.callout(item.error, color_scheme="red", size="1", class_name="evidence-error", width="100%"),
            ),
            rx.cond(
                item.summary != "",
                rx.el.pre(
                    item.summary,
                    class_name="evidence-summary",
                    white_space="pre-wrap",
                    word_break="break-word",
                    font_size="var(--font-size-1)",
                    margin="0",
                    width="100%",
                ),
            ),
            _related(item),
            rx.cond(
                item.link != "",
                rx.link(
                    "Open in datasource",
                    href=item.link,
                    is_external=True,
                    rel="noopener noreferrer",
                    size="2",
                    class_name="evidence-link",
                ),
            ),
            spacing="2",
            width="100%",
        ),
        # The chips' anchors ("#evidence-E1"); the margin keeps the item clear of the sticky bar.
        id=item.anchor,
        class_name="evidence-item",
        scroll_margin_top="5em",
        padding="0.75em",
        border="1px solid var(--gray-a5)",
        border_radius="var(--radius-3)",
        width="100%",
    )


def _items(items: Any) -> rx.Component:
    return rx.cond(
        items.length() > 0,
        rx.vstack(
            rx.text("Evidence", weight="bold", size="2"),
            rx.foreach(items, _item),
            spacing="2",
            width="100%",
            id="evidence-list",
        ),
    )


def investigation_panel() -> rx.Component:
    inv = S.investigation
    return rx.cond(
        inv.present,
        rx.vstack(
            rx.cond(
                inv.inconclusive,
                rx.callout(
                    "Inconclusive: the model found no explanation the evidence supports.",
                    icon="circle_help",
                    color_scheme="amber",
                    id="inconclusive",
                    width="100%",
                ),
            ),
            _gathered(inv),
            _chart(inv.chart),
            _hypotheses(inv.hypotheses),
            _items(inv.evidence),
            spacing="3",
            width="100%",
            id="investigation",
        ),
    )
