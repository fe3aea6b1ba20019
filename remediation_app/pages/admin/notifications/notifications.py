"""Notifications (admins only): the routes (the one from NOTIFY_URLS read-only) with a write-only
Apprise URL, the events, rules and label patterns each wants and its throttle, Send test per route;
below them the deliveries, newest first (failed ones with their masked error, and Retry).

The states are in notifications_state.py (every handler checks the admin on the server).
"""

from __future__ import annotations

import reflex as rx

from remediation_app.components.callouts import message
from remediation_app.components.pager import pager
from remediation_app.components.panels import section
from remediation_app.components.table import data_table, row_actions, row_button
from remediation_app.pages.admin import kit
from remediation_app.pages.admin.notifications.notifications_state import AdminDeliveriesState as D
from remediation_app.pages.admin.notifications.notifications_state import AdminRoutesState as S
from remediation_app.services.notify.deliveries import STATUSES
from remediation_app.services.notify.events import EVENT_KINDS, EVENT_LABELS
from remediation_app.services.notify.targets import URL_MAX

URL_HINT = (
    "An Apprise URL: slack://TokenA/TokenB/TokenC/#channel, msteams://..., mmost://host/token, "
    "discord://id/token, mailto://user:pass@smtp.example?to=oncall@example.com, ntfy://topic, json://host/path. "
    "Write-only: never shown again (leave empty to keep it)."
)
LABELS_HINT = (
    "One label=pattern a line (the rules' syntax: team=db*, severity=re:critical|page); every one must match. "
    "Empty: any alert."
)


def _events() -> rx.Component:
    return rx.hstack(
        *(kit.form_checkbox(S, f"event_{kind}", EVENT_LABELS[kind], id=f"event-{kind}") for kind in EVENT_KINDS),
        spacing="4",
        wrap="wrap",
    )


def _rule_box(option: rx.Var) -> rx.Component:
    box = rx.checkbox(name="rule_" + option["id"], default_checked=option["checked"] != "", class_name="route-rule")
    return kit.check_label(box, " ", option["name"])


def _route_form() -> rx.Component:
    url = kit.secret_input(S, "url", max_length=URL_MAX)
    return kit.edit_form(
        S,
        rx.grid(
            kit.input_field(S, "name", "Name", required=True, max_length=100),
            kit.field("Apprise URL", url, URL_HINT),
            kit.input_field(S, "throttle_max", "At most (messages)", type="number", step="1", min="1", max="1000"),
            kit.input_field(S, "throttle_minutes", "per (minutes)", type="number", step="1", min="1", max="1440"),
            columns="2",
            spacing="3",
            width="100%",
        ),
        kit.field("Events", _events()),
        kit.field(
            "New alerts from these rules (none ticked: any rule but an ignore rule)",
            rx.hstack(rx.foreach(S.rule_boxes, _rule_box), spacing="4", wrap="wrap"),
        ),
        kit.field(
            "Label patterns",
            rx.text_area(
                name="label_patterns",
                default_value=S.form["label_patterns"],
                id="route-label-patterns",
                rows="3",
                width="100%",
                font_family="monospace",
                max_length=10_000,
            ),
            LABELS_HINT,
        ),
        kit.form_checkbox(S, "enabled", "Enabled", id="enabled"),
    )


def _route_row(row: rx.Var) -> rx.Component:
    send = S.send_test(row["id"])  # type: ignore[misc]
    test = row_button("Send test", send, class_name="test-route", loading=row["test_status"] == "testing")
    consequence = "Its queued messages are not sent, and its delivery history goes with it."
    return kit.crud_row(
        row,
        S,
        kit.name_cell(row, S, "from NOTIFY_URLS (read-only)"),
        rx.table.cell(rx.code(row["target"]), class_name="route-target"),
        rx.table.cell(rx.text(row["events"]), class_name="route-events"),
        rx.table.cell(
            rx.text(row["rules"]),
            rx.text(row["label_patterns"], size="1", color_scheme="gray"),
            class_name="route-match",
        ),
        rx.table.cell(rx.text(row["throttle"]), class_name="route-throttle"),
        rx.table.cell(rx.text(row["enabled"]), class_name="route-enabled"),
        rx.table.cell(
            rx.vstack(
                row_actions(
                    test, rx.cond(row["source"] != "environment", kit.edit_and_delete(row, S, consequence=consequence))
                ),
                kit.test_result(row),
                spacing="1",
                max_width="28em",
            )
        ),
    )


STATUS_COLORS = {"sent": "green", "failed": "red", "pending": "blue", "sending": "blue", "throttled": "orange"}


def _delivery_row(row: rx.Var) -> rx.Component:
    status = rx.match(
        row["status"],
        *((name, rx.badge(name, color_scheme=color)) for name, color in STATUS_COLORS.items()),
        rx.badge(row["status"], color_scheme="gray"),
    )
    alert = rx.cond(row["alert_id"] != "", rx.link("#" + row["alert_id"], href="/alerts/" + row["alert_id"]))
    retry = rx.cond(
        row["retryable"] != "", row_button("Retry", D.retry_delivery(row["id"]), class_name="retry-delivery")
    )
    return rx.table.row(
        rx.table.cell(rx.text(row["when"]), white_space="nowrap"),
        rx.table.cell(rx.text(row["route"]), rx.text(row["target"], size="1", color_scheme="gray")),
        rx.table.cell(rx.text(row["event"])),
        rx.table.cell(alert),
        rx.table.cell(status, class_name="delivery-status"),
        rx.table.cell(rx.text(row["attempts"])),
        rx.table.cell(
            rx.text(row["error"], size="1", white_space="pre-wrap", word_break="break-word"),
            class_name="delivery-error",
            max_width="30em",
        ),
        rx.table.cell(retry),
        class_name="delivery-row",
        id="delivery-row-" + row["id"],
    )


def _deliveries() -> tuple[rx.Component, ...]:
    choose = rx.el.select(
        rx.el.option("All", value=""),
        *(rx.el.option(status.capitalize(), value=status) for status in STATUSES),
        value=D.status,
        on_change=D.set_filter("status"),
        id="deliveries-status",
        style={"padding": "0.3em"},
    )
    return (
        section(
            "Deliveries",
            message(D.notice, "green", id="deliveries-notice"),
            message(D.error, "red", id="deliveries-error"),
            rx.hstack(
                rx.text("Status", size="2"),
                choose,
                rx.button("Refresh", on_click=D.load, variant="soft", size="1", id="deliveries-refresh"),
                spacing="3",
                align="center",
            ),
            data_table(
                ["Queued", "Route", "Event", "Alert", "Status", "Attempts", "Last error", ""],
                D.rows,
                _delivery_row,
                body_id="delivery-rows",
                size="1",
            ),
            pager(D, prefix="deliveries-"),
        ),
    )


admin_notifications_page = kit.crud_page(
    "/admin/notifications",
    "Notifications",
    S,
    form=_route_form,
    empty="No route yet: add one above, or set NOTIFY_URLS (every finished analysis goes there).",
    headers=["Name", "Target", "Events", "Alerts", "Throttle", "Enabled", ""],
    row=_route_row,
    after=_deliveries,
    also_load=(D.load, D.watch),
)
