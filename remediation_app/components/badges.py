"""Coloured badges for severity, status, rule action, analysis urgency and action risk."""

import reflex as rx

from remediation_app.styles import ACTION_COLORS, RISK_COLORS, SEVERITY_COLORS, STATUS_COLORS, URGENCY_COLORS


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
