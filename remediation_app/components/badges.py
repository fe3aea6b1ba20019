"""Coloured badges for severity, status, rule action, analysis urgency and state, action risk, a
server's environment and a kind of evidence."""

import reflex as rx

from remediation_app.components.styles import (
    ACTION_COLORS,
    ENVIRONMENT_COLORS,
    EVIDENCE_KIND_COLORS,
    RISK_COLORS,
    SEVERITY_COLORS,
    STATUS_COLORS,
    URGENCY_COLORS,
)


def _badge(value: rx.Var, colors: dict[str, str], **props: object) -> rx.Component:
    color = rx.match(value, *[(k, v) for k, v in colors.items()], "gray")
    return rx.badge(value, color_scheme=color, variant="soft", **props)


def severity_badge(value: rx.Var, **props: object) -> rx.Component:
    return _badge(value, SEVERITY_COLORS, class_name="severity", **props)


def status_badge(value: rx.Var, **props: object) -> rx.Component:
    return _badge(value, STATUS_COLORS, class_name="status", **props)


def action_badge(value: rx.Var, **props: object) -> rx.Component:
    return _badge(value, ACTION_COLORS, class_name="action", **props)


def urgency_badge(value: rx.Var, **props: object) -> rx.Component:
    return _badge(value, URGENCY_COLORS, class_name="urgency", **props)


def risk_badge(value: rx.Var, **props: object) -> rx.Component:
    return _badge(value, RISK_COLORS, class_name="risk", **props)


def evidence_kind_badge(value: rx.Var, **props: object) -> rx.Component:
    return _badge(value, EVIDENCE_KIND_COLORS, class_name="evidence-kind", **props)


def analysis_badge(status: rx.Var, urgency: rx.Var) -> rx.Component:
    """An alert's analysis state in a list: the urgency once done (as on the alert page), a quiet
    outline while queued or running, red when failed, a dash when never analysed."""

    def quiet(text: str, color: str = "gray") -> rx.Component:
        return rx.badge(text, color_scheme=color, variant="outline", class_name=f"analysis analysis-{text}")

    done = rx.cond(
        urgency != "",
        _badge(urgency, URGENCY_COLORS, class_name="analysis analysis-done urgency"),
        rx.badge("done", color_scheme="gray", variant="soft", class_name="analysis analysis-done"),
    )
    return rx.match(
        status,
        ("done", done),
        ("queued", quiet("queued")),
        ("running", quiet("running", "blue")),
        ("failed", rx.badge("failed", color_scheme="red", variant="soft", class_name="analysis analysis-failed")),
        ("cancelled", quiet("cancelled")),
        rx.text("—", color_scheme="gray", class_name="analysis analysis-none"),
    )


def environment_badge(value: rx.Var, **props: object) -> rx.Component:
    """A server's environment tag (prod, staging, ...), nothing when it has none."""
    color = rx.match(value.lower(), *[(k, v) for k, v in ENVIRONMENT_COLORS.items()], "gray")  # type: ignore[attr-defined]
    return rx.cond(value != "", rx.badge(value, color_scheme=color, variant="soft", **props))
