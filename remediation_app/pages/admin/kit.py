"""The admin kit's views: the add/edit form card of a CrudState, its fields, and delete after confirmation.

Element ids follow the noun: `<noun>-form`, `<noun>-save`, `<noun>-cancel`, `<noun>-<field>`, and
the classes `delete-<noun>` and `confirm-delete`; the tests find the controls by them.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from remediation_app.components.dialogs import confirm_buttons


def field(label: str, control: rx.Component, hint: str = "") -> rx.Component:
    return rx.vstack(
        rx.text(label, size="1", weight="bold"),
        control,
        rx.cond(hint != "", rx.text(hint, size="1", color_scheme="gray")),
        spacing="1",
        width="100%",
    )


def check_label(*children: Any) -> rx.Component:
    """A checkbox with its text, clickable as one."""
    return rx.el.label(rx.hstack(*children, spacing="2", align="center"), font_size="var(--font-size-2)")


def form_input(noun: str, name: str, **props: Any) -> rx.Component:
    return rx.input(name=name, id=f"{noun}-{name.replace('_', '-')}", width="100%", **props)


def secret_placeholder(stored: rx.Var) -> rx.Var:
    """A write-only secret's input says whether one is stored (`stored`: the form's `has_<secret>`)."""
    return rx.cond(stored != "", "(stored: leave empty to keep it)", "(none stored)")


def edit_form(state: Any, noun: str, *body: rx.Component, on_submit: Any, after: tuple[rx.Component, ...] = ()):
    """The add/edit card of a CrudState: heading, `body`, Save (or Add) and Cancel, then `after`."""
    editing = state.editing_id != ""
    return rx.card(
        rx.form(
            rx.vstack(
                rx.heading(rx.cond(editing, f"Edit {noun} " + state.form["name"], f"Add a {noun}"), size="4"),
                *body,
                rx.hstack(
                    rx.button(rx.cond(editing, "Save", f"Add {noun}"), type="submit", id=f"{noun}-save"),
                    rx.cond(
                        editing,
                        rx.button(
                            "Cancel",
                            type="button",
                            variant="soft",
                            color_scheme="gray",
                            on_click=state.cancel_edit,
                            id=f"{noun}-cancel",
                        ),
                    ),
                    spacing="3",
                ),
                *after,
                spacing="3",
                width="100%",
            ),
            on_submit=on_submit,
            key=state.form_key,
            id=f"{noun}-form",
        ),
        width="100%",
        margin_bottom="1em",
    )


def empty_hint(state: Any, text: str, *, id: str) -> rx.Component:
    """Said once the rows are loaded and there are none."""
    empty = state.loaded & (state.rows.length() == 0)
    return rx.cond(empty, rx.callout(text, color_scheme="gray", id=id, margin_bottom="1em"))


def edit_and_delete(row: rx.Var, noun: str, state: Any, *, delete: Any, consequence: str) -> tuple[rx.Component, ...]:
    """A row's Edit (fills the form: `state.start_edit`) and Delete (`delete`, after confirmation)."""
    edit = rx.button("Edit", size="1", variant="soft", class_name=f"edit-{noun}", on_click=state.start_edit(row["id"]))
    return edit, delete_button(row, noun, consequence, delete)


def delete_button(row: rx.Var, noun: str, consequence: str, on_confirm: Any) -> rx.Component:
    """Delete, after a dialog naming the row and what deleting it does (`consequence`)."""
    return rx.alert_dialog.root(
        rx.alert_dialog.trigger(
            rx.button("Delete", size="1", variant="soft", color_scheme="red", class_name=f"delete-{noun}")
        ),
        rx.alert_dialog.content(
            rx.alert_dialog.title(f"Delete {noun} ", row["name"], "?"),
            rx.alert_dialog.description(consequence, size="2"),
            confirm_buttons(rx.button("Delete", color_scheme="red", on_click=on_confirm, class_name="confirm-delete")),
        ),
    )
