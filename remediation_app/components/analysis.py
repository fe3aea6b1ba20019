"""One LLM analysis, as the alert page shows it (the latest one open, earlier ones folded).

Everything the model wrote is untrusted text. Prose goes through `safe_markdown`: Markdown, never
HTML (raw HTML in the text is shown as text), no math, no images. Commands are shown in code blocks
(with a copy button and "Send to terminal", which types it without running), the unparsed raw answer
as plain pre-wrapped text.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from remediation_app.components.badges import risk_badge, urgency_badge
from remediation_app.components.citations import citations
from remediation_app.components.send_to_terminal import send_to_terminal_button


def _no_image(_value: object) -> rx.Component:
    # A Markdown image in the model's answer would make the browser fetch a URL the model chose.
    return rx.text.span("[image omitted]", color_scheme="gray")


def safe_markdown(text: rx.Var | str, components: dict[str, Any] | None = None, **props: object) -> rx.Component:
    """Markdown without raw HTML: Reflex's default turns rehype-raw on, which would render a
    `<script>` or `<img onerror>` in the text as elements; without it react-markdown shows them as text.
    `components` adds to (or replaces) react-markdown's component map, e.g. {"pre": code block}."""
    return rx.markdown(
        text,
        use_raw=False,
        use_math=False,
        use_katex=False,
        component_map={**(components or {}), "img": _no_image},
        **props,
    )


def _field(label: str, *children: rx.Component, class_name: str) -> rx.Component:
    return rx.vstack(
        rx.text(label, weight="bold", size="2"),
        *children,
        spacing="1",
        width="100%",
        class_name=class_name,
    )


def _bullets(items: rx.Var, class_name: str) -> rx.Component:
    return rx.list.unordered(
        rx.foreach(items, lambda item: rx.list.item(safe_markdown(item), class_name=class_name + "-item")),
        class_name=class_name,
    )


def _action(action: Any, terminal_connected: rx.Var[bool]) -> rx.Component:
    return rx.box(
        rx.hstack(
            risk_badge(action.risk),
            rx.box(safe_markdown(action.description), flex="1"),
            align="start",
            spacing="2",
        ),
        rx.cond(
            action.command != "",
            rx.fragment(
                rx.box(
                    rx.code_block(action.command, language="bash", can_copy=True, wrap_long_lines=True),
                    class_name="action-command",
                ),
                send_to_terminal_button(action.command, connected=terminal_connected),
            ),
        ),
        class_name="immediate-action",
        width="100%",
    )


def _structured(a: Any, terminal_connected: rx.Var[bool]) -> rx.Component:
    return rx.vstack(
        rx.cond(
            a.root_cause != "",
            _field(
                "Root cause",
                safe_markdown(a.root_cause),
                # Only an investigated analysis cites evidence; an older one shows nothing here.
                rx.cond(
                    a.investigated,
                    citations(
                        a.cites,
                        label="Evidence",
                        linked=a.linked,
                        empty="unsupported: no evidence cited",
                        class_name="root-cause-evidence",
                    ),
                ),
                class_name="root-cause",
            ),
        ),
        rx.cond(a.impact != "", _field("Impact", safe_markdown(a.impact), class_name="impact")),
        rx.cond(
            a.actions.length() > 0,
            _field(
                "Immediate actions",
                rx.vstack(
                    rx.foreach(a.actions, lambda action: _action(action, terminal_connected)), width="100%", spacing="3"
                ),
                class_name="immediate-actions",
            ),
        ),
        rx.cond(
            a.remediation_steps.length() > 0,
            _field(
                "Remediation steps",
                rx.list.ordered(
                    rx.foreach(
                        a.remediation_steps,
                        lambda step: rx.list.item(safe_markdown(step), class_name="remediation-step"),
                    )
                ),
                class_name="remediation-steps",
            ),
        ),
        rx.cond(
            a.prevention.length() > 0,
            _field("Prevention", _bullets(a.prevention, "prevention"), class_name="prevention-section"),
        ),
        spacing="3",
        width="100%",
    )


def _unstructured(a: Any) -> rx.Component:
    return rx.vstack(
        rx.callout(
            "The model's answer could not be parsed; raw text:",
            color_scheme="orange",
            class_name="unparsed-notice",
            width="100%",
        ),
        rx.text(
            a.raw_text,
            white_space="pre-wrap",
            word_break="break-word",
            font_family="var(--code-font-family)",
            size="2",
            class_name="raw-text",
        ),
        width="100%",
        spacing="2",
    )


def fact(label: str, value: rx.Var, class_name: str) -> rx.Component:
    """One small gray fact under a model's answer ("Tokens 120 in, 30 out")."""
    return rx.text(label, " ", rx.text.span(value, class_name=class_name), size="1", color_scheme="gray")


def facts(*items: rx.Component) -> rx.Component:
    return rx.hstack(*items, spacing="4", wrap="wrap")


def _facts(a: Any) -> rx.Component:
    return facts(
        fact("Provider", a.provider, "analysis-provider"),
        fact("Tokens", a.tokens, "analysis-tokens"),
        fact("Cost", a.cost, "analysis-cost"),
        fact("Latency", a.latency, "analysis-latency"),
        fact("Asked by", a.requested_by, "analysis-requested-by"),
        rx.text(rx.moment(a.created_at, format="YYYY-MM-DD HH:mm:ss Z"), size="1", color_scheme="gray"),
    )


def analysis_header(a: Any) -> rx.Component:
    """Urgency, confidence and the needs-human flag (also the summary line of a folded analysis)."""
    return rx.hstack(
        rx.cond(a.urgency != "", urgency_badge(a.urgency)),
        rx.cond(a.confidence != "", rx.text("confidence ", a.confidence, size="2", class_name="confidence")),
        rx.cond(
            a.needs_human, rx.badge("needs a human", color_scheme="red", variant="solid", class_name="needs-human")
        ),
        rx.cond(~a.structured, rx.badge("unparsed", color_scheme="orange", class_name="unparsed")),
        rx.cond(a.inconclusive, rx.badge("inconclusive", color_scheme="amber", class_name="inconclusive-badge")),
        rx.cond(
            a.incident_id != "",
            rx.link(
                rx.badge("group analysis of the incident", color_scheme="purple", variant="soft"),
                href="/incidents/" + a.incident_id,
                class_name="covers-incident",
                title="Storm control: one analysis covers every alert of the incident",
            ),
        ),
        align="center",
        spacing="3",
    )


def analysis_body(a: Any, terminal_connected: rx.Var[bool]) -> rx.Component:
    """`terminal_connected`: whether the page's terminal is connected (its Send to terminal buttons)."""
    return rx.vstack(
        rx.cond(a.structured, _structured(a, terminal_connected), _unstructured(a)),
        _facts(a),
        spacing="3",
        width="100%",
    )


def provider_select(state: Any, *, id: str) -> rx.Component:
    """Which LLM provider answers: `state` has `choices` ({"id", "label"}), `choice` and `choose_provider`."""
    return rx.select.root(
        rx.select.trigger(placeholder="Provider", id=id),
        rx.select.content(rx.foreach(state.choices, lambda c: rx.select.item(c["label"], value=c["id"]))),
        value=state.choice,
        on_change=state.choose_provider,
        size="2",
    )
