"""The alert page's Alertmanager part (state in silence_state.py): Ack and Silence buttons, the
outcome of the last action, the active silences covering the alert (each with Expire, after a
confirmation), and the Silence dialog.

Matchers, comments and authors come from Alertmanager and alerts: shown as text.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from remediation_app.components.callouts import message
from remediation_app.components.dialogs import confirm_buttons
from remediation_app.pages.alerts.silence_state import OPERATORS
from remediation_app.pages.alerts.silence_state import AlertSilencesState as S

KIND_COLORS = (("ack", "blue"), ("silence", "amber"), "gray")


def action_buttons(firing: rx.Var[bool], acked: rx.Var[bool]) -> rx.Component:
    """Ack (while the alert fires and nobody acked it) and Silence."""
    return rx.hstack(
        rx.cond(
            firing & ~acked,
            rx.button(
                rx.icon("check", size=14),
                "Ack",
                on_click=S.ack,
                loading=S.busy,
                variant="soft",
                title="Acknowledge: silence it in Alertmanager until it resolves, and say that you are on it",
                id="ack-button",
            ),
        ),
        rx.button(
            rx.icon("bell-off", size=14),
            "Silence…",
            on_click=S.open_silence,
            disabled=S.busy,
            variant="soft",
            color_scheme="amber",
            id="silence-button",
        ),
        spacing="2",
        wrap="wrap",
    )


def _expire_button(row: Any) -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.trigger(
            rx.button("Expire", size="1", variant="soft", color_scheme="red", disabled=S.busy, class_name="expire")
        ),
        rx.alert_dialog.content(
            rx.alert_dialog.title("Expire silence ", row.silence_id, "?"),
            rx.alert_dialog.description(
                "The alerts it mutes notify again at Alertmanager's next evaluation.", size="2"
            ),
            confirm_buttons(
                rx.button(
                    "Expire",
                    color_scheme="red",
                    # mypy does not see a background handler's EventCallback as callable.
                    on_click=S.expire(row.silence_id),  # type: ignore[misc]
                    class_name="confirm-expire",
                )
            ),
        ),
    )


def _silence(row: Any) -> rx.Component:
    return rx.box(
        rx.hstack(
            rx.badge(row.kind, color_scheme=rx.match(row.kind, *KIND_COLORS), variant="soft", class_name="kind"),
            rx.cond(
                row.link != "",
                rx.link(
                    row.silence_id,
                    href=row.link,
                    is_external=True,
                    rel="noopener noreferrer",
                    size="1",
                    class_name="silence-id",
                ),
                rx.code(row.silence_id, size="1", class_name="silence-id"),
            ),
            rx.text("by ", rx.text.strong(row.created_by), size="1", class_name="silence-author"),
            rx.text("ends ", rx.moment(row.ends_at, from_now=True), size="1", class_name="silence-ends"),
            rx.spacer(),
            _expire_button(row),
            align="center",
            spacing="2",
            wrap="wrap",
            width="100%",
        ),
        rx.code(row.matchers, size="1", word_break="break-all", class_name="silence-matchers"),
        rx.text(row.comment, size="2", white_space="pre-wrap", word_break="break-word", class_name="silence-comment"),
        class_name="silence-row",
        custom_attrs={"data-id": row.silence_id},
        padding="0.5em 0.75em",
        border_left="3px solid var(--amber-8)",
        width="100%",
    )


def silences_list() -> rx.Component:
    return rx.vstack(
        message(S.notice, "green", id="silence-notice", size="1", width="100%"),
        message(S.error, "red", id="silence-error", size="1", width="100%"),
        message(S.silences_error, "orange", id="silences-unavailable", size="1", width="100%"),
        rx.cond(
            S.silences.length() > 0,  # type: ignore[attr-defined]
            rx.vstack(
                rx.text("Active silences covering this alert", weight="bold", size="2"),
                rx.foreach(S.silences, _silence),
                spacing="2",
                width="100%",
            ),
        ),
        id="silences",
        spacing="2",
        width="100%",
    )


def _matcher(row: Any, index: rx.Var[int]) -> rx.Component:
    return rx.flex(
        rx.input(
            value=row.name,
            on_change=lambda v: S.edit_matcher(index, "name", v),
            placeholder="label",
            aria_label="Label name",
            size="1",
            flex="1 1 8em",
            min_width="0",
            class_name="matcher-name",
        ),
        rx.el.select(
            *[rx.el.option(op, value=op) for op in OPERATORS],
            value=row.op,
            on_change=lambda v: S.edit_matcher(index, "op", v),
            aria_label="Operator: = equals, != differs, =~ matches the regular expression, !~ does not match",
            class_name="matcher-op",
            style={"padding": "0.2em 0.3em", "border_radius": "var(--radius-2)"},
        ),
        rx.input(
            value=row.value,
            on_change=lambda v: S.edit_matcher(index, "value", v),
            placeholder="value",
            aria_label="Value",
            size="1",
            flex="2 1 10em",
            min_width="0",
            class_name="matcher-value",
        ),
        rx.icon_button(
            rx.icon("x", size=14),
            on_click=S.remove_matcher(index),
            type="button",
            size="1",
            variant="ghost",
            color_scheme="gray",
            aria_label="Remove this matcher",
            title="Remove this matcher",
            class_name="matcher-remove",
        ),
        class_name="matcher-row",
        align="center",
        gap="2",
        wrap="wrap",
        width="100%",
    )


def _duration() -> rx.Component:
    return rx.vstack(
        rx.text("Duration", weight="bold", size="2"),
        rx.flex(
            rx.foreach(
                S.presets,
                lambda p: rx.button(
                    p[1],
                    on_click=S.choose_duration(p[0]),
                    type="button",
                    size="1",
                    variant=rx.cond(S.duration == p[0], "solid", "outline"),
                    class_name="duration-preset",
                    custom_attrs={"data-minutes": p[0]},
                ),
            ),
            rx.button(
                "Custom",
                on_click=S.choose_duration("custom"),
                type="button",
                size="1",
                variant=rx.cond(S.duration == "custom", "solid", "outline"),
                id="duration-custom",
            ),
            rx.cond(
                S.duration == "custom",
                rx.input(
                    name="custom_minutes",
                    type="number",
                    min="1",
                    placeholder="minutes",
                    aria_label="Custom duration in minutes",
                    size="1",
                    width="8em",
                    id="custom-minutes",
                ),
            ),
            gap="2",
            wrap="wrap",
            align="center",
        ),
        spacing="1",
        width="100%",
    )


def silence_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Silence in Alertmanager"),
            rx.dialog.description(
                "Alertmanager mutes every alert these matchers select, for the duration.",
                size="2",
                margin_bottom="0.75em",
            ),
            rx.form(
                rx.vstack(
                    rx.text("Matchers", weight="bold", size="2"),
                    rx.foreach(S.matchers, _matcher),
                    rx.cond(S.left_out != "", rx.text(S.left_out, size="1", color_scheme="gray", id="left-out")),
                    rx.button(
                        rx.icon("plus", size=14),
                        "Add matcher",
                        on_click=S.add_matcher,
                        type="button",
                        size="1",
                        variant="soft",
                        id="add-matcher",
                    ),
                    _duration(),
                    rx.text("Comment", weight="bold", size="2"),
                    rx.text_area(
                        name="comment",
                        placeholder="Why (required): a ticket, the maintenance, who is on it",
                        rows="3",
                        width="100%",
                        id="silence-comment",
                    ),
                    message(S.dialog_error, "red", id="silence-dialog-error", width="100%"),
                    rx.hstack(
                        rx.dialog.close(rx.button("Cancel", type="button", variant="soft", color_scheme="gray")),
                        rx.button("Create silence", type="submit", loading=S.busy, id="silence-create"),
                        justify="end",
                        spacing="3",
                        width="100%",
                    ),
                    spacing="3",
                    width="100%",
                ),
                on_submit=S.create_silence,
                reset_on_submit=False,
                id="silence-form",
            ),
            max_width="42em",
            id="silence-dialog",
        ),
        open=S.dialog_open,
        on_open_change=S.set_dialog_open,
    )
