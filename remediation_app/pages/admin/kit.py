"""The admin kit's views: a CrudState's page (its add/edit form card, its table), the form's fields
(inputs, selects, checkboxes, write-only secrets), a row's Edit and Delete (after confirmation), and
a ConnectionTestState row's Test connection with its outcome (classes `test-<noun>`, `test-result`
and `test-ok` or `test-failed`).

Element ids follow the noun of the state's records: `<noun>-form`, `<noun>-save`, `<noun>-cancel`,
`<noun>-<field>`, `<noun>-rows`, `<noun>s-notice`, `<noun>s-error`, `no-<noun>s`, `<noun>s-loaded`
(there once the rows are loaded), and the classes `<noun>-name`, `edit-<noun>`, `delete-<noun>` and
`confirm-delete`; the tests find the controls by them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import reflex as rx

from remediation_app.components.callouts import message
from remediation_app.components.dialogs import confirm_buttons
from remediation_app.components.panels import card
from remediation_app.components.table import data_table, row_actions, row_button
from remediation_app.pages.page import Page, page


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


def input_field(state: Any, name: str, label: str, hint: str = "", **props: Any) -> rx.Component:
    """A labelled input of the form, filled with the form's `name` (never a secret: see secret_input)."""
    return field(label, form_input(state.records.noun, name, default_value=state.form[name], **props), hint)


def select_input(state: Any, name: str, options: list[tuple[str, str]]) -> rx.Component:
    """A select of the form set to the form's `name`; `options` are (value, label)."""
    return rx.el.select(
        *(rx.el.option(label, value=value) for value, label in options),
        name=name,
        default_value=state.form[name],
        id=f"{state.records.noun}-{name.replace('_', '-')}",
        style={"padding": "0.3em"},
    )


def form_checkbox(state: Any, name: str, label: str, *, id: str) -> rx.Component:
    """A checkbox of the form, ticked when the form's `name` is not empty."""
    checkbox = rx.checkbox(name=name, default_checked=state.form[name] != "", id=f"{state.records.noun}-{id}")
    return check_label(checkbox, f" {label}")


def secret_placeholder(stored: rx.Var) -> rx.Var:
    """A write-only secret's input says whether one is stored (`stored`: the form's `has_<secret>`)."""
    return rx.cond(stored != "", "(stored: leave empty to keep it)", "(none stored)")


def secret_input(state: Any, name: str, *, max_length: int) -> rx.Component:
    """A write-only secret's input: never filled, empty keeps the stored one (the form's `has_<name>`)."""
    placeholder = secret_placeholder(state.form[f"has_{name}"])
    return form_input(
        state.records.noun,
        name,
        type="password",
        auto_complete="new-password",
        max_length=max_length,
        placeholder=placeholder,
    )


def remove_secret(state: Any, name: str, label: str, *, id: str) -> rx.Component:
    """The box that removes a stored secret (`remove_<name>`), there while editing a row that has one."""
    box = rx.checkbox(name=f"remove_{name}", id=f"{state.records.noun}-{id}")
    return rx.cond((state.editing_id != "") & (state.form[f"has_{name}"] != ""), check_label(box, f" {label}"))


def edit_form(state: Any, *body: rx.Component) -> rx.Component:
    """The add/edit card of a CrudState: heading, `body`, Save (or Add) and Cancel, then the error."""
    noun, editing = state.records.noun, state.editing_id != ""
    buttons = rx.hstack(
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
    )
    return rx.form(
        card(
            rx.cond(editing, f"Edit {noun} " + state.form["name"], f"Add a {noun}"),
            *body,
            buttons,
            message(state.error, "red", id=f"{noun}s-error", width="100%"),
            margin_bottom="1em",
        ),
        on_submit=state.save_row,
        key=state.form_key,
        id=f"{noun}-form",
    )


def crud_page(
    route: str,
    title: str,
    state: Any,
    *,
    form: Callable[[], rx.Component],
    empty: str,
    headers: list[str],
    row: Callable[[Any], rx.Component],
    after: Callable[[], tuple[rx.Component, ...]] = tuple,
    also_load: tuple[Any, ...] = (),
) -> Page:
    """An admin page of a CrudState: its notice, the form (`form()`: an edit_form), a hint when
    there are no rows (`empty`), the table (`row(item)` renders one row), then what `after()` adds
    (another section, whose state's loads are `also_load`)."""
    plural = f"{state.records.noun}s"

    def view() -> tuple[rx.Component, ...]:
        return (
            message(state.notice, "green", id=f"{plural}-notice", margin_bottom="1em"),
            form(),
            rx.cond(
                state.loaded & (state.rows.length() == 0),
                rx.callout(empty, color_scheme="gray", id=f"no-{plural}", margin_bottom="1em"),
            ),
            data_table(headers, state.rows, row, body_id=f"{state.records.noun}-rows"),
            rx.cond(state.loaded, rx.box(id=f"{plural}-loaded", display="none")),  # for tests: the form is final
            *after(),
        )

    view.__name__ = view.__qualname__ = f"admin_{plural}_page"
    return page(route, title, role="admin", on_load=(state.load, *also_load))(view)


def name_cell(row: rx.Var, state: Any, from_env: str) -> rx.Component:
    """A row's name (class `<noun>-name`), and for the environment's row where it comes from (`from_env`)."""
    return rx.table.cell(
        rx.text(row["name"], class_name=f"{state.records.noun}-name"),
        rx.cond(
            row["source"] == "environment",
            rx.text(from_env, size="1", color_scheme="gray", class_name="from-env"),
        ),
    )


def test_and_change(row: rx.Var, state: Any, test: Any, *, consequence: str) -> rx.Component:
    """A ConnectionTestState row's Test connection (the `test` event), Edit and Delete (not for the
    environment's row: it is read-only), and the test's outcome."""
    noun = state.records.noun
    button = row_button("Test connection", test, class_name=f"test-{noun}", loading=row["test_status"] == "testing")
    return rx.vstack(
        row_actions(
            button, rx.cond(row["source"] != "environment", edit_and_delete(row, state, consequence=consequence))
        ),
        test_result(row),
        spacing="1",
        max_width="28em",
    )


def test_result(row: rx.Var) -> rx.Component:
    """A row's connection test outcome (the extra fields `test_status` and `test_message`): green
    when it passed, the exact error in red when it failed, nothing while it runs."""
    return rx.cond(
        (row["test_status"] != "") & (row["test_status"] != "testing"),
        rx.text(
            row["test_message"],
            color_scheme=rx.cond(row["test_status"] == "ok", "green", "red"),
            size="1",
            white_space="pre-wrap",
            word_break="break-word",
            class_name="test-result test-" + row["test_status"],
        ),
    )


def crud_row(row: rx.Var, state: Any, *cells: rx.Component) -> rx.Component:
    """A CrudState's table row (class `<noun>-row`, id `<noun>-row-<name>`)."""
    noun = state.records.noun
    return rx.table.row(*cells, class_name=f"{noun}-row", id=f"{noun}-row-" + row["name"])


def edit_and_delete(row: rx.Var, state: Any, *, consequence: str) -> rx.Component:
    """A row's Edit (fills the form) and Delete (after a confirmation saying `consequence`)."""
    noun = state.records.noun
    return row_actions(
        row_button("Edit", state.start_edit(row["id"]), class_name=f"edit-{noun}"),
        delete_button(row, noun, consequence, state.delete_row(row["id"])),
    )


def delete_button(row: rx.Var, noun: str, consequence: str, on_confirm: Any) -> rx.Component:
    """Delete, after a dialog naming the row and what deleting it does (`consequence`)."""
    return rx.alert_dialog.root(
        rx.alert_dialog.trigger(row_button("Delete", color_scheme="red", class_name=f"delete-{noun}")),
        rx.alert_dialog.content(
            rx.alert_dialog.title(f"Delete {noun} ", row["name"], "?"),
            rx.alert_dialog.description(consequence, size="2"),
            confirm_buttons(rx.button("Delete", color_scheme="red", on_click=on_confirm, class_name="confirm-delete")),
        ),
    )
