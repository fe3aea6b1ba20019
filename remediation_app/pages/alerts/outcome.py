"""The Outcome section (alert and incident pages): what happened once the alert was handled, as a person
recorded it (was the analysis right, the root cause, the fix and its commands, tags; who and when),
the engine's verdict on the fix with its evidence (times, a re-fire, the expression check), and the
form that records or edits it, prefilled from what happened. The state is outcome_state.py.

Everything people wrote is shown as text (a code block for commands), never as Markdown or HTML.
"""

from __future__ import annotations

import reflex as rx

from remediation_app.components.callouts import outcome
from remediation_app.components.panels import section
from remediation_app.pages.alerts.outcome_state import OutcomeState as S
from remediation_app.pages.alerts.outcome_state import SourceRow
from remediation_app.pages.alerts.similar import fix_badge, verdict_badge
from remediation_app.services.memory.outcomes import COMMAND_MAX, COMMANDS_MAX, TAG_MAX, TAGS_MAX, TEXT_MAX

FIX_FROM = (
    ("terminal", "its last command in a terminal"),
    ("diagnostic", "its last approved diagnostic"),
    "when it was recorded",
)


def _when(label: str, value: rx.Var, *, id: str) -> rx.Component:
    return rx.cond(
        value != "",
        rx.text(label, " ", rx.moment(value, format="YYYY-MM-DD HH:mm:ss Z"), size="2", id=id),
    )


def _check() -> rx.Component:
    c = S.check
    return rx.vstack(
        rx.hstack(
            fix_badge(c["status"], id="fix-status"),
            rx.text(c["detail"], size="2", id="fix-detail", word_break="break-word"),
            align="center",
            spacing="2",
            wrap="wrap",
        ),
        rx.hstack(
            _when("Fix at", c["fix_at"], id="fix-at"),
            rx.cond(c["fix_from"] != "", rx.text("(", rx.match(c["fix_from"], *FIX_FROM), ")", size="1")),
            _when("resolved", c["resolved_at"], id="fix-resolved-at"),
            _when("window ended", c["window_end"], id="fix-window-end"),
            _when("hold ends", c["hold_end"], id="fix-hold-end"),
            spacing="3",
            wrap="wrap",
            color_scheme="gray",
        ),
        rx.cond(
            c["refire_alert_id"] != "",
            rx.text(
                "Fired again ",
                rx.moment(c["refired_at"], format="YYYY-MM-DD HH:mm:ss Z"),
                ": ",
                rx.link("alert #", c["refire_alert_id"], href="/alerts/" + c["refire_alert_id"]),
                size="2",
                id="fix-refired",
            ),
        ),
        rx.cond(
            c["expression"] != "", rx.text("Expression: ", rx.code(c["expression"]), size="1", id="fix-expression")
        ),
        spacing="1",
        width="100%",
    )


def _recorded() -> rx.Component:
    r = S.recorded
    return rx.card(
        rx.vstack(
            rx.hstack(
                verdict_badge(r["verdict"], id="outcome-verdict"),
                rx.foreach(S.recorded_tags, lambda t: rx.badge(t, color_scheme="gray", class_name="outcome-tag")),
                rx.spacer(),
                rx.button("Edit", on_click=S.start_edit, size="1", variant="soft", id="outcome-edit"),
                align="center",
                spacing="2",
                wrap="wrap",
                width="100%",
            ),
            rx.cond(
                r["root_cause"] != "",
                rx.text(
                    rx.text.strong("Root cause: "),
                    r["root_cause"],
                    size="2",
                    white_space="pre-wrap",
                    id="outcome-root-cause",
                ),
            ),
            rx.cond(
                r["fix"] != "",
                rx.text(rx.text.strong("Fix: "), r["fix"], size="2", white_space="pre-wrap", id="outcome-fix"),
            ),
            rx.cond(
                S.recorded_commands.length() > 0,  # type: ignore[attr-defined]
                rx.code_block(S.recorded_commands.join("\n"), language="bash", width="100%", id="outcome-commands"),  # type: ignore[attr-defined]
            ),
            rx.text(
                "Recorded by ",
                rx.text.strong(r["created_by"]),
                " ",
                rx.moment(r["created_at"], from_now=True),
                rx.cond(
                    r["edits"] != "0",
                    rx.text.span(
                        "; changed by ", rx.text.strong(r["updated_by"]), " ", rx.moment(r["updated_at"], from_now=True)
                    ),
                ),
                size="1",
                color_scheme="gray",
                id="outcome-author",
            ),
            _check(),
            spacing="2",
            width="100%",
        ),
        width="100%",
        id="outcome-recorded",
    )


def _source(row: SourceRow) -> rx.Component:
    return rx.text(rx.code(row.command), " ", row.where, " ", rx.moment(row.at, from_now=True), size="1")


def _form() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.text("Was the analysis right?", size="2", weight="medium"),
            rx.radio_group(
                ["right", "partly", "wrong"],
                value=S.verdict,
                on_change=S.set_verdict,
                direction="row",
                id="outcome-verdict-choice",
            ),
            rx.text_area(
                value=S.root_cause,
                on_change=S.set_root_cause,
                placeholder="The actual root cause",
                max_length=TEXT_MAX,
                rows="2",
                width="100%",
                id="outcome-root-cause-input",
            ),
            rx.text_area(
                value=S.fix,
                on_change=S.set_fix,
                placeholder="What fixed it",
                max_length=TEXT_MAX,
                rows="2",
                width="100%",
                id="outcome-fix-input",
            ),
            rx.text_area(
                value=S.commands,
                on_change=S.set_commands,
                placeholder=f"The fix's commands, one a line (at most {COMMANDS_MAX})",
                max_length=COMMANDS_MAX * (COMMAND_MAX + 1),
                rows="3",
                width="100%",
                font_family="monospace",
                id="outcome-commands-input",
            ),
            rx.cond(
                S.sources.length() > 0,  # type: ignore[attr-defined]
                rx.vstack(
                    rx.text("Prefilled from what happened:", size="1", color_scheme="gray"),
                    rx.foreach(S.sources, _source),
                    spacing="0",
                    id="outcome-sources",
                ),
            ),
            rx.input(
                value=S.tags,
                on_change=S.set_tags,
                placeholder=f"Tags, separated by commas (at most {TAGS_MAX})",
                max_length=TAGS_MAX * (TAG_MAX + 2),
                width="100%",
                id="outcome-tags-input",
            ),
            rx.hstack(
                rx.button("Save outcome", on_click=S.save, id="outcome-save"),
                rx.button("Prefill from what happened", on_click=S.prefill, variant="soft", id="outcome-prefill"),
                rx.cond(S.editing, rx.button("Cancel", on_click=S.cancel_edit, variant="soft", color_scheme="gray")),
                spacing="2",
                wrap="wrap",
            ),
            spacing="2",
            width="100%",
        ),
        width="100%",
        id="outcome-form",
    )


def outcome_section() -> rx.Component:
    return section(
        "Outcome",
        rx.cond(
            S.choices.length() > 0,  # type: ignore[attr-defined]
            rx.hstack(
                rx.text("For the alert", size="2"),
                rx.select.root(
                    rx.select.trigger(id="outcome-alert-choice"),
                    rx.select.content(rx.foreach(S.choices, lambda c: rx.select.item(c[1], value=c[0]))),
                    value=S.alert,
                    on_change=S.choose,
                ),
                align="center",
                spacing="2",
            ),
        ),
        outcome(S, "outcome"),
        rx.cond(S.has_outcome & ~S.editing, _recorded()),
        rx.cond(~S.has_outcome | S.editing, rx.cond(S.alert != "", _form())),
        id="outcome-section",
    )
