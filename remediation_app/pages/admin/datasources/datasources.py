"""Datasources (admins only): the Prometheus-compatible query APIs analyses gather evidence from (the
one from PROMETHEUS_URL read-only), the add/edit form with a write-only credential, delete after
confirmation, and Test connection per datasource (pages/admin/connections.py draws them).

The state is in datasources_state.py (every handler checks the admin on the server).
"""

from __future__ import annotations

from remediation_app.pages.admin import kit
from remediation_app.pages.admin.connections import HEADERS, connection_form, connection_row
from remediation_app.pages.admin.datasources.datasources_state import AdminDatasourcesState as S

URL_HINT = (
    "Prometheus, Thanos, Mimir or VictoriaMetrics: the base of its /api/v1 (http://prometheus:9090, "
    "https://mimir.example/prometheus). No credentials in the URL."
)

admin_datasources_page = kit.crud_page(
    "/admin/datasources",
    "Datasources",
    S,
    form=lambda: connection_form(
        S,
        url_hint=URL_HINT,
        url_placeholder="http://prometheus:9090",
        default_label="Default (for alerts from an unknown Prometheus)",
    ),
    empty="No datasource yet: add one above, or set PROMETHEUS_URL.",
    headers=HEADERS,
    row=connection_row(
        S,
        from_env="from PROMETHEUS_URL (read-only)",
        test=S.test_datasource,
        consequence="Analyses stop querying it; the evidence they gathered from it is kept.",
    ),
)
