"""The alert page's LLM analysis section: queue state, the latest analysis (its investigation above
it: evidence.py), earlier ones (folded), the provider choice and Analyze. The state is in
analysis_state.py.
"""

from __future__ import annotations

import reflex as rx

from remediation_app.components.analysis import analysis_body, analysis_header, provider_select
from remediation_app.components.callouts import message
from remediation_app.components.panels import section
from remediation_app.pages.alerts.analysis_state import AlertAnalysisState as S
from remediation_app.pages.alerts.evidence import investigation_panel
from remediation_app.pages.terminal.panel_state import TerminalPanelState


def _no_provider() -> rx.Component:
    return rx.callout(
        rx.text(
            "No LLM provider is configured. An admin can add one on ",
            rx.link("LLM providers", href="/admin/providers", id="no-provider-link"),
            " or set LLM_MODEL.",
        ),
        color_scheme="gray",
        id="no-provider",
        width="100%",
    )


def _queue() -> rx.Component:
    colors = rx.match(S.queue_kind, ("failed", "red"), ("cancelled", "gray"), ("retrying", "orange"), "blue")
    return rx.cond(
        S.queue_kind != "",
        rx.callout(
            rx.text(
                rx.text.span(S.queue_message, id="analysis-queue-message"),
                rx.cond(
                    S.next_attempt_at != "",
                    rx.text.span(" Next attempt ", rx.moment(S.next_attempt_at, from_now=True, interval=5000), "."),
                ),
            ),
            color_scheme=colors,
            id="analysis-queue",
            class_name="queue-" + S.queue_kind,
            width="100%",
        ),
    )


def _analyze_controls() -> rx.Component:
    return rx.hstack(
        provider_select(S, id="analysis-provider-select"),
        rx.button(
            rx.cond(S.analyses.length() > 0, "Re-analyze", "Analyze"),  # type: ignore[attr-defined]
            on_click=S.analyze,
            disabled=S.running,
            id="analyze-button",
        ),
        align="center",
        spacing="3",
    )


def _latest() -> rx.Component:
    return rx.foreach(
        S.latest,
        lambda a: rx.card(
            rx.vstack(analysis_header(a), analysis_body(a, TerminalPanelState.connected), spacing="3", width="100%"),
            id="analysis-latest",
            width="100%",
        ),
    )


def _earlier() -> rx.Component:
    return rx.cond(
        S.earlier.length() > 0,
        rx.vstack(
            rx.text("Earlier analyses", weight="bold", size="2"),
            rx.foreach(
                S.earlier,
                lambda a: rx.el.details(
                    rx.el.summary(
                        rx.hstack(
                            rx.moment(a.created_at, format="YYYY-MM-DD HH:mm:ss"),
                            analysis_header(a),
                            rx.text(a.provider, size="1", color_scheme="gray"),
                            display="inline-flex",
                            align="center",
                            spacing="3",
                        ),
                        cursor="pointer",
                    ),
                    rx.box(analysis_body(a, TerminalPanelState.connected), padding="0.5em 0 0.5em 1.25em"),
                    class_name="analysis-earlier",
                ),
            ),
            id="analyses-earlier",
            spacing="2",
            width="100%",
        ),
    )


def analysis_section() -> rx.Component:
    return section(
        "LLM analysis",
        rx.cond(
            S.loaded,
            rx.vstack(
                rx.cond(
                    S.configured,
                    rx.fragment(_analyze_controls(), message(S.refused, "red", id="analysis-refused"), _queue()),
                    _no_provider(),
                ),
                investigation_panel(),
                _latest(),
                _earlier(),
                width="100%",
                spacing="3",
            ),
        ),
        id="analysis-section",
    )
