"""The alert page's Diagnostics section: commands a model proposed for the alert's servers, each with
the server, the exact command (monospace, as text), the model's reason, the policy's verdict and its
status; Approve and Reject (with an optional note) when the user may decide; the output once it ran.
And the dashboard's badge of proposals waiting for a person. States in proposals_state.py.

Every text here is untrusted (the model's command and reason, a note, a server's output): shown as
text, never as Markdown or HTML.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from remediation_app.components.callouts import message
from remediation_app.components.panels import section
from remediation_app.pages.alerts.proposals_state import AlertProposalsState as S
from remediation_app.pages.alerts.proposals_state import ProposalsWaitingState

STATUS_COLORS = (
    ("pending", "amber"),
    ("approved", "blue"),
    ("running", "blue"),
    ("done", "green"),
    ("failed", "red"),
    ("refused", "red"),
    "gray",  # rejected, expired
)
ORIGINS = (("chat", "proposed in a chat"), "proposed by an analysis")


def _mono(text: rx.Var, **props: object) -> rx.Component:
    """Untrusted text in monospace, kept as written (line breaks, long words wrapped)."""
    return rx.box(
        rx.text(text, font_family="monospace", size="2", white_space="pre-wrap", word_break="break-all"),
        padding="0.5em 0.75em",
        background="var(--gray-a3)",
        border_radius="var(--radius-2)",
        width="100%",
        **props,
    )


def _decision(p: Any) -> rx.Component:
    return rx.hstack(
        rx.input(
            value=S.notes.get(p.id, ""),
            on_change=lambda value: S.set_note(p.id, value),
            placeholder="Note (optional; a rejection's goes back to the model)",
            max_length=1000,
            size="2",
            class_name="proposal-note",
            flex="1",
        ),
        rx.button("Approve", on_click=S.approve(p.id), color_scheme="green", size="2", class_name="approve-proposal"),
        rx.button(
            "Reject",
            on_click=S.reject(p.id),
            color_scheme="gray",
            variant="soft",
            size="2",
            class_name="reject-proposal",
        ),
        width="100%",
        align="center",
        wrap="wrap",
    )


def _outcome(p: Any) -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.cond(
                p.exit_status != "", rx.badge("exit ", p.exit_status, color_scheme="gray", class_name="proposal-exit")
            ),
            rx.text(p.facts, size="1", color_scheme="gray"),
            align="center",
            spacing="2",
            wrap="wrap",
        ),
        rx.cond(p.error != "", rx.callout(p.error, color_scheme="red", size="1", class_name="proposal-error")),
        rx.text("stdout", size="1", weight="medium"),
        _mono(rx.cond(p.output != "", p.output, "(empty)"), class_name="proposal-output"),
        rx.cond(
            p.stderr != "",
            rx.fragment(rx.text("stderr", size="1", weight="medium"), _mono(p.stderr, class_name="proposal-stderr")),
        ),
        width="100%",
        spacing="1",
    )


def _proposal(p: Any) -> rx.Component:
    decided = rx.cond(
        p.decided_by != "",
        rx.text(
            rx.match(p.status, ("rejected", "Rejected"), "Approved"),
            " by ",
            rx.text.strong(p.decided_by),
            " ",
            rx.moment(p.decided_at, from_now=True),
            rx.cond(p.note != "", rx.text.span(": ", p.note)),
            size="2",
            class_name="proposal-decided",
        ),
    )
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.badge(p.status, color_scheme=rx.match(p.status, *STATUS_COLORS), class_name="proposal-status"),
                rx.text("on ", rx.code(p.server, class_name="proposal-server"), size="2"),
                rx.text(
                    rx.match(p.origin, *ORIGINS),
                    " ",
                    rx.moment(p.created_at, from_now=True),
                    size="1",
                    color_scheme="gray",
                ),
                rx.cond(
                    p.status == "pending",
                    rx.text("expires ", rx.moment(p.expires_at, from_now=True), size="1", color_scheme="gray"),
                ),
                align="center",
                spacing="3",
                wrap="wrap",
            ),
            _mono(p.command, class_name="proposal-command"),
            rx.cond(p.proposed != "", rx.text("The model wrote: ", rx.code(p.proposed), size="1", color_scheme="gray")),
            rx.text(p.reason, size="2", white_space="pre-wrap", word_break="break-word", class_name="proposal-reason"),
            rx.text("Policy: ", p.verdict, size="1", color_scheme="gray", class_name="proposal-verdict"),
            decided,
            rx.cond(p.may_decide, _decision(p)),
            rx.cond(p.ran | (p.error != ""), _outcome(p)),
            spacing="2",
            width="100%",
        ),
        width="100%",
        class_name="proposal",
        id="proposal-" + p.id,
        custom_attrs={"data-status": p.status},
    )


def proposals_section() -> rx.Component:
    """The alert page's Diagnostics section (AlertProposalsState.watch on the page's load keeps it live)."""
    return section(
        "Diagnostics",
        rx.text(
            "Commands the model asked to run on a server. Nothing runs until a person allowed on that server "
            "approves it; commands outside the policy are refused before they are shown.",
            size="2",
            color_scheme="gray",
        ),
        message(S.error, "red", id="proposals-error"),
        rx.cond(
            S.proposals.length() > 0,  # type: ignore[attr-defined]
            rx.vstack(rx.foreach(S.proposals, _proposal), width="100%", spacing="3"),
            rx.text("No command proposed.", size="2", color_scheme="gray", id="no-proposals"),
        ),
        id="proposals",
    )


def waiting_badge() -> rx.Component:
    """How many proposed commands wait for a person (nothing when none); live on its own."""
    count = ProposalsWaitingState.waiting
    return rx.box(
        rx.cond(
            count > 0,
            rx.badge(
                count,
                rx.cond(count == 1, " command waits for approval", " commands wait for approval"),
                color_scheme="amber",
                size="2",
                id="proposals-waiting",
            ),
        ),
        on_mount=ProposalsWaitingState.watch,
    )
