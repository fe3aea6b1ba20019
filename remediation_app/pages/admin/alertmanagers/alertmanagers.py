"""Alertmanagers (admins only): where silences and acks go and what the sync loop reads (the one
from ALERTMANAGER_URL read-only), the add/edit form with a write-only credential and the external
URL notifications name it by, delete after confirmation, and Test connection (its version and
cluster status, or the exact error).

The state is in alertmanagers_state.py (every handler checks the admin on the server).
"""

from __future__ import annotations

import reflex as rx

from remediation_app.pages.admin import kit
from remediation_app.pages.admin.alertmanagers.alertmanagers_state import AdminAlertmanagersState as S
from remediation_app.pages.admin.connections import HEADERS, connection_form, connection_row

URL_HINT = "Its API, as the engine reaches it (http://alertmanager:9093). No credentials in the URL."
EXTERNAL_HINT = (
    "The URL its notifications carry (its --web.external-url), when it differs from the URL above: "
    "alerts are matched to their Alertmanager by it. Empty: the same."
)


def _external_url(row: rx.Var) -> tuple[rx.Component, ...]:
    shown = rx.cond(row["external_url"] != "", rx.code(row["external_url"], word_break="break-all"), rx.text("same"))
    return (rx.table.cell(shown, class_name="alertmanager-external-url"),)


admin_alertmanagers_page = kit.crud_page(
    "/admin/alertmanagers",
    "Alertmanagers",
    S,
    form=lambda: connection_form(
        S,
        url_hint=URL_HINT,
        url_placeholder="http://alertmanager:9093",
        default_label="Default (for alerts from an unknown Alertmanager)",
        extra=(
            kit.input_field(
                S, "external_url", "External URL", EXTERNAL_HINT, max_length=1024, placeholder="https://alerts.example/"
            ),
        ),
    ),
    empty="No Alertmanager yet: add one above, or set ALERTMANAGER_URL.",
    headers=[*HEADERS[:2], "External URL", *HEADERS[2:]],
    row=connection_row(
        S,
        from_env="from ALERTMANAGER_URL (read-only)",
        test=S.test_alertmanager,
        consequence="Silences and acks made through it stay in Alertmanager; the engine stops syncing with it.",
        extra=_external_url,
    ),
)
