"""Evidence ids (E1, E2, ...) cited by an analysis, as chips: a chip links to its evidence item on
the page (element id "evidence-E1") when that item is shown there."""

from __future__ import annotations

import reflex as rx


def evidence_chip(ref: rx.Var[str], *, linked: rx.Var[bool] | bool, color: str = "gray") -> rx.Component:
    chip = rx.badge(ref, color_scheme=color, variant="surface", class_name="evidence-chip", cursor="inherit")
    # A hash link in this page: Reflex runs no on_load for a hash change, and React Router's
    # ScrollRestoration scrolls to the element with that id.
    return rx.cond(
        linked,
        rx.el.a(chip, href="#evidence-" + ref, class_name="evidence-chip-link", cursor="pointer"),
        chip,
    )


def citations(
    refs: rx.Var[list[str]],
    *,
    label: str,
    linked: rx.Var[bool] | bool,
    color: str = "gray",
    empty: str = "",
    class_name: str = "",
) -> rx.Component:
    """ "<label> [E1] [E3]"; with no id: `empty` (in orange) or nothing."""
    chips = rx.hstack(
        rx.text(label, size="1", color_scheme="gray"),
        rx.foreach(refs, lambda ref: evidence_chip(ref, linked=linked, color=color)),
        spacing="1",
        align="center",
        wrap="wrap",
        class_name=class_name,
    )
    if not empty:
        return rx.cond(refs.length() > 0, chips)  # type: ignore[attr-defined]
    return rx.cond(
        refs.length() > 0,  # type: ignore[attr-defined]
        chips,
        rx.text(empty, size="1", color_scheme="orange", class_name="unsupported"),
    )
