"""The real chain: Debian's prometheus -> prometheus-alertmanager -> the app's webhook, and back:
the app (ALERTMANAGER_URL set, syncing every second) silences and acks in that Alertmanager.

Prometheus evaluates always-firing rules every second and sends to an Alertmanager whose two
receivers post every alert to the running app: one with the right bearer token, one with a
wrong one (its deliveries must fail with 401). Nothing sleeps for a fixed time: every check
polls the app's API or Alertmanager's metrics until a deadline.
"""

from __future__ import annotations

import contextlib
import re
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
import pytest
from playwright.sync_api import expect

from tests.conftest import require_tool
from tests.e2e.test_admin_pages import admin_tab
from tests.support.app_server import AppServer, free_port
from tests.support.browser import LOAD_TIMEOUT_MS
from tests.support.databases import sqlite_url
from tests.support.prom_faults import refused_url
from tests.support.prometheus import (
    Alertmanager,
    ManagedProcess,
    Prometheus,
    alertmanager_config,
    always_firing_rule,
    metric_value,
    webhook_receiver,
)

pytestmark = [pytest.mark.e2e, pytest.mark.alertmanager, pytest.mark.slow]

TOKEN = "am-e2e-webhook-token"
DEADLINE_S = 30
EXTERNAL_LABELS = {"cluster": "e2e-am"}
CRITICAL = always_firing_rule(
    "DiskWillFillSoon",
    {"severity": "critical", "team": "storage"},
    "Disk on db-1 fills within 4 hours",
)
WATCHDOG = always_firing_rule("Watchdog", {"severity": "none"}, "Heartbeat of the alerting pipeline")
# Fires until the rules are reloaded with an empty expression: then resolved (send_resolved).
TRANSIENT = always_firing_rule("CertificateExpiring", {"severity": "warning"}, "TLS certificate expires soon")
RULES = [CRITICAL, WATCHDOG, TRANSIENT]

T = TypeVar("T")


@dataclass
class Stack:
    app: AppServer
    alertmanager: Alertmanager
    prometheus: Prometheus
    http: httpx.Client

    @property
    def processes(self) -> list[AppServer | ManagedProcess]:
        return [self.app, self.alertmanager, self.prometheus]

    def diagnostics(self) -> str:
        parts = []
        for proc in self.processes:
            parts.append(f"----- {proc.log_path} (last lines)\n{proc.log_tail(60)}")
        return "\n".join(parts)

    def wait_for(self, what: str, probe: Callable[[], T | None], timeout: float = DEADLINE_S) -> T:
        """Poll `probe` until it returns something truthy (the logs are printed on failure)."""
        deadline = time.monotonic() + timeout
        last: object = None
        while True:
            try:
                result = probe()
            except httpx.HTTPError as exc:
                result, last = None, exc
            if result:
                return result
            if time.monotonic() > deadline:
                pytest.fail(f"timed out after {timeout}s waiting for {what} (last error: {last!r})")
            time.sleep(0.2)

    def find_alert(self, alertname: str, action: str, status: str = "firing") -> dict[str, Any] | None:
        """The alert's full detail once it is listed under `action` with `status`."""
        response = self.http.get("/api/alerts", params={"action": action, "q": alertname, "limit": 100})
        response.raise_for_status()
        for item in response.json()["items"]:
            if item["alertname"] == alertname and item["status"] == status:
                detail = self.http.get(f"/api/alerts/{item['id']}")
                detail.raise_for_status()
                return dict(detail.json())
        return None


@contextlib.contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    """A SIGTERM (CI timeout, `kill`) unwinds like Ctrl-C, so that every process below is stopped."""

    def interrupt(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@pytest.fixture(scope="module")
def am_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    prometheus_bin = require_tool("prometheus")
    alertmanager_bin = require_tool("prometheus-alertmanager")
    tmp = tmp_path_factory.mktemp("am-e2e")
    with contextlib.ExitStack() as cleanup:
        cleanup.enter_context(_sigterm_unwinds())
        am_port = free_port()
        app = AppServer(
            database_url=sqlite_url(tmp),
            data_dir=tmp / "data",
            name="am",
            env={
                "WEBHOOK_TOKEN": TOKEN,
                "ALERTMANAGER_URL": f"http://127.0.0.1:{am_port}",
                "ALERTMANAGER_SYNC_SECONDS": "1",
            },
            log_dir=tmp,
            work_dir=tmp / "reflex",  # a private build: no clash with a concurrent run
        )
        cleanup.callback(app.stop)
        app.start()
        webhook = f"{app.url}/webhook/alerts"
        alertmanager = Alertmanager(
            alertmanager_bin,
            tmp / "alertmanager",
            alertmanager_config(
                [webhook_receiver("app", webhook, TOKEN), webhook_receiver("wrong-token", webhook, "not-the-token")]
            ),
            port=am_port,
        )
        cleanup.callback(alertmanager.stop)
        alertmanager.start()
        prometheus = Prometheus(
            prometheus_bin,
            tmp / "prometheus",
            alertmanager_url=alertmanager.url,
            rules=RULES,
            external_labels=EXTERNAL_LABELS,
        )
        cleanup.callback(prometheus.stop)
        prometheus.start()
        http = cleanup.enter_context(httpx.Client(base_url=app.url, timeout=5, headers=app.bearer()))
        yield Stack(app, alertmanager, prometheus, http)


@pytest.fixture(autouse=True)
def _logs_on_failure(am_stack: Stack) -> Iterator[None]:
    """Captured output is shown only for a failing test: there, it is every process's log."""
    yield
    print(am_stack.diagnostics())


def assert_from_prometheus(alert: dict[str, Any], stack: Stack, alertname: str, labels: dict[str, str]) -> None:
    assert alert["labels"] == {"alertname": alertname, **labels, **EXTERNAL_LABELS}
    assert re.fullmatch(r"[0-9a-f]{16}", alert["fingerprint"]), alert["fingerprint"]
    assert alert["generator_url"].startswith(f"{stack.prometheus.url}/graph?g0.expr="), alert["generator_url"]
    assert alert["receiver"] == "app"
    assert alert["ends_at"] is None


def test_critical_alert_is_auto_analyzed(am_stack: Stack) -> None:
    alert = am_stack.wait_for(
        "DiskWillFillSoon as auto_analyze", lambda: am_stack.find_alert("DiskWillFillSoon", "auto_analyze")
    )
    assert_from_prometheus(alert, am_stack, "DiskWillFillSoon", CRITICAL["labels"])
    assert alert["severity"] == "critical"
    assert alert["summary"] == CRITICAL["annotations"]["summary"]
    assert alert["annotations"] == CRITICAL["annotations"]
    assert alert["matched_rule"]["name"] == "Critical"
    assert alert["timeline"] and alert["timeline"][0]["receiver"] == "app"


def test_watchdog_is_ignored(am_stack: Stack) -> None:
    alert = am_stack.wait_for("Watchdog as ignore", lambda: am_stack.find_alert("Watchdog", "ignore"))
    assert_from_prometheus(alert, am_stack, "Watchdog", WATCHDOG["labels"])
    assert alert["matched_rule"]["name"] == "Watchdog"
    # Ignored alerts stay out of the default listing.
    listed = am_stack.http.get("/api/alerts", params={"q": "Watchdog"}).json()
    assert all(item["alertname"] != "Watchdog" for item in listed["items"])


def test_wrong_token_delivery_fails(am_stack: Stack) -> None:
    def failed() -> float:
        return metric_value(
            am_stack.alertmanager.metrics(),
            "alertmanager_notifications_failed_total",
            lambda labels: 'integration="webhook"' in labels,
        )

    assert am_stack.wait_for("alertmanager_notifications_failed_total > 0", failed) > 0

    def logged() -> bool:
        return any("wrong-token" in line and "401" in line for line in am_stack.alertmanager.log_text().splitlines())

    am_stack.wait_for("Alertmanager to log the wrong-token receiver's 401", logged)
    # The app saw only "app" as a receiver: the wrong token stored nothing.
    for action in ("auto_analyze", "manual", "ignore"):
        items = am_stack.http.get("/api/alerts", params={"action": action, "limit": 100}).json()["items"]
        for item in items:
            detail = am_stack.http.get(f"/api/alerts/{item['id']}").json()
            assert detail["receiver"] == "app"
            assert {t["receiver"] for t in detail["timeline"]} == {"app"}


def test_resolved_when_rule_stops_firing(am_stack: Stack) -> None:
    firing = am_stack.wait_for(
        "CertificateExpiring as manual", lambda: am_stack.find_alert("CertificateExpiring", "manual")
    )
    assert_from_prometheus(firing, am_stack, "CertificateExpiring", TRANSIENT["labels"])
    assert firing["matched_rule"]["name"] == "Catch-all"
    am_stack.prometheus.reload([CRITICAL, WATCHDOG, {**TRANSIENT, "expr": "vector(1) == 0"}])
    resolved = am_stack.wait_for(
        "CertificateExpiring resolved", lambda: am_stack.find_alert("CertificateExpiring", "manual", status="resolved")
    )
    assert resolved["id"] == firing["id"]
    assert resolved["fingerprint"] == firing["fingerprint"]
    assert resolved["ends_at"] is not None
    assert resolved["times_notified"] >= 2
    assert resolved["timeline"][0]["status"] == "resolved"
    # The other rules are untouched.
    still = am_stack.find_alert("DiskWillFillSoon", "auto_analyze")
    assert still is not None and still["status"] == "firing"


# ---- Alertmanager both ways: silences, acks, the sync loop, the admin page


def drill_rule(*instances: str) -> dict[str, Any]:
    """SilenceDrill firing once per instance, all in one Alertmanager group (grouped by alertname)."""
    series = [f'label_replace(vector(1), "instance", "{name}", "", "")' for name in instances]
    expr = " or ".join(series) or "vector(1) == 0"
    return always_firing_rule("SilenceDrill", {"severity": "warning"}, "Drill", expr=expr)


def drill_alert(stack: Stack, instance: str) -> dict[str, Any] | None:
    """SilenceDrill on `instance` as the app shows it, once it has it (firing or not)."""
    items = stack.http.get("/api/alerts", params={"q": "SilenceDrill", "limit": 100}).json()["items"]
    found = next((item for item in items if item["instance"] == instance), None)
    return None if found is None else dict(stack.http.get(f"/api/alerts/{found['id']}").json())


def am_silence(stack: Stack, silence_id: str) -> dict[str, Any]:
    return dict(httpx.get(f"{stack.alertmanager.url}/api/v2/silence/{silence_id}", timeout=5).json())


def test_a_silence_stops_the_notifications_and_an_ack_ends_when_the_alert_resolves(am_stack: Stack) -> None:
    stack, http = am_stack, am_stack.http
    base_rules = [CRITICAL, WATCHDOG, {**TRANSIENT, "expr": "vector(1) == 0"}]
    stack.prometheus.reload([*base_rules, drill_rule("drill-a")])
    first = stack.wait_for("SilenceDrill on drill-a", lambda: drill_alert(stack, "drill-a"))
    assert first["external_url"] == stack.alertmanager.url

    silenced = http.post(f"/api/alerts/{first['id']}/silence", json={"duration_minutes": 60, "comment": "drill"})
    assert silenced.status_code == 201, silenced.text
    silence_id = silenced.json()["silence_id"]
    there = am_silence(stack, silence_id)
    assert there["createdBy"] == "admin" and there["status"]["state"] == "active"
    assert {m["name"]: m["value"] for m in there["matchers"]} == first["labels"]

    def silenced_here() -> dict[str, Any] | None:
        alert = drill_alert(stack, "drill-a")
        return alert if alert is not None and alert["am_state"] == "suppressed" else None

    synced = stack.wait_for("the sync to mark drill-a silenced", silenced_here)
    assert synced["am_silenced_by"] == [silence_id]
    notified_before = synced["times_notified"]

    # drill-b joins the group: Alertmanager notifies the group again, without the silenced drill-a.
    stack.prometheus.reload([*base_rules, drill_rule("drill-a", "drill-b")])
    second = stack.wait_for("SilenceDrill on drill-b", lambda: drill_alert(stack, "drill-b"))
    assert second["timeline"][0]["group_key"] == first["timeline"][0]["group_key"]
    assert drill_alert(stack, "drill-a")["times_notified"] == notified_before  # type: ignore[index]

    # Ack drill-b; both stop firing. Alertmanager sends nothing for what a silence mutes, so the
    # engine notices drill-b resolved by itself (the sync loop) and expires the ack's silence.
    acked = http.post(f"/api/alerts/{second['id']}/ack")
    assert acked.status_code == 201, acked.text
    ack_id = acked.json()["silence_id"]
    assert drill_alert(stack, "drill-b")["acked_by"] == "admin"  # type: ignore[index]
    stack.prometheus.reload([*base_rules, drill_rule()])
    stack.wait_for("the ack's silence expired", lambda: am_silence(stack, ack_id)["status"]["state"] == "expired")
    assert am_silence(stack, silence_id)["status"]["state"] == "active"  # a plain silence stays until it ends
    assert http.delete(f"/api/silences/{silence_id}").json()["state"] == "expired"
    assert am_silence(stack, silence_id)["status"]["state"] == "expired"


def test_the_alertmanagers_page_tests_connections(am_stack: Stack, new_tab) -> None:
    token = "e2e-alertmanager-bearer-token-not-shown"
    tab = admin_tab(am_stack.app, new_tab, "/admin/alertmanagers", record_frames=True)
    page = tab.page
    expect(page.locator("#alertmanagers-loaded")).to_be_attached(timeout=LOAD_TIMEOUT_MS)
    env = page.locator("#alertmanager-row-environment")
    expect(env.locator(".alertmanager-source")).to_have_text("environment")
    env.locator(".test-alertmanager").click()
    expect(env.locator(".test-ok")).to_have_text("Connected: Alertmanager 0.25.0, cluster disabled", timeout=15_000)

    with refused_url() as closed:
        page.fill("#alertmanager-name", "closed-am")
        page.fill("#alertmanager-url", closed)
        page.fill("#alertmanager-external-url", "https://alerts.example/")
        page.select_option("#alertmanager-auth", "bearer")
        page.fill("#alertmanager-secret", token)
        page.click("#alertmanager-save")
        expect(page.locator("#alertmanagers-notice")).to_have_text("Saved alertmanager closed-am.")
        row = page.locator("#alertmanager-row-closed-am")
        expect(row.locator(".alertmanager-external-url")).to_have_text("https://alerts.example/")
        expect(row.locator(".alertmanager-secret")).to_have_text("yes")
        row.locator(".test-alertmanager").click()
        expect(row.locator(".test-failed")).to_have_text(
            f"Alertmanager 'closed-am' at {closed}: connection refused (is it running, is the port right?)",
            timeout=15_000,
        )
    row.locator(".delete-alertmanager").click()
    page.locator(".confirm-delete").click()
    expect(page.locator("#alertmanagers-notice")).to_have_text("Alertmanager deleted.")
    expect(row).to_have_count(0)
    assert tab.frames and token not in "\n".join([*tab.frames, page.content()])


# The alert page's Silence dialog, Expire and Ack, as an on-call user (role "user") uses them
# (pages/alerts/silence*.py). Last in this module: it stops Alertmanager (and starts it again).
PAGE_USER, PAGE_PASSWORD = "oncall", "e2e-oncall-password-1"
PAGE_LABELS = {"alertname": "VolumeAlmostFull", "instance": "db-7:9100", "job": "node", "team": "storage"}
PAGE_COMMENT = "Disk being replaced (e2e)"
SYNC_TIMEOUT_MS = 20_000  # the sync (every second here) and Alertmanager's own evaluation, on a loaded machine


def _page_alert(stack: Stack) -> int:
    """Post the alert to Alertmanager, which notifies the app; its id there."""
    alert = {
        "labels": {**PAGE_LABELS, "severity": "warning"},
        "annotations": {"summary": "Volume /data on db-7 is 97% full"},
        "startsAt": datetime.now(UTC).isoformat(),
    }
    httpx.post(f"{stack.alertmanager.url}/api/v2/alerts", json=[alert], timeout=5).raise_for_status()
    found = stack.wait_for("VolumeAlmostFull in the app", lambda: stack.find_alert("VolumeAlmostFull", "manual"))
    return int(found["id"])


def _active_silences(stack: Stack) -> list[dict[str, Any]]:
    found = httpx.get(f"{stack.alertmanager.url}/api/v2/silences", timeout=5).json()
    return [s for s in found if s["status"]["state"] == "active" and s["createdBy"] == PAGE_USER]


def test_the_alert_page_silences_expires_and_acks(am_stack: Stack, new_tab) -> None:
    stack = am_stack
    alert_id = _page_alert(stack)
    stack.app.add_user(PAGE_USER, PAGE_PASSWORD, role="user")
    tab = new_tab()
    tab.log_in_as(stack.app, PAGE_USER, PAGE_PASSWORD)
    page = tab.page
    page.goto(f"{stack.app.url}/alerts/{alert_id}")
    expect(page.locator("#alert-name")).to_have_text("VolumeAlmostFull", timeout=LOAD_TIMEOUT_MS)
    expect(page.locator("#alertmanager-link")).to_have_attribute(
        "href", re.compile("^" + re.escape(stack.alertmanager.url) + "/#/alerts[?]filter=%7Balertname")
    )
    expect(page.locator("#alert-am-state")).to_have_text("active", timeout=SYNC_TIMEOUT_MS)

    # Silence it from the dialog: the labels prefilled, severity removed, for an hour.
    page.click("#silence-button")
    rows = page.locator("#silence-dialog .matcher-row")
    expect(rows).to_have_count(5, timeout=LOAD_TIMEOUT_MS)  # the prefill arrives after the dialog opens
    names = [rows.nth(i).locator("input").first.input_value() for i in range(rows.count())]
    assert names == ["alertname", "instance", "job", "severity", "team"], names
    rows.nth(names.index("severity")).locator(".matcher-remove").click()
    expect(rows).to_have_count(len(names) - 1)
    page.locator(".duration-preset[data-minutes='60']").click()
    page.click("#silence-create")
    expect(page.locator("#silence-dialog-error")).to_contain_text("comment")  # refused before asking
    assert _active_silences(stack) == []
    page.fill("#silence-comment", PAGE_COMMENT)
    page.click("#silence-create")
    expect(page.locator("#silence-dialog")).to_have_count(0)
    expect(page.locator("#silence-notice")).to_contain_text("Silenced until")

    made = _active_silences(stack)
    assert [s["comment"] for s in made] == [PAGE_COMMENT]
    assert {(m["name"], m["value"], m["isEqual"], m["isRegex"]) for m in made[0]["matchers"]} == {
        (k, v, True, False) for k, v in PAGE_LABELS.items()
    }
    ends = datetime.fromisoformat(made[0]["endsAt"].replace("Z", "+00:00"))
    assert 55 * 60 < (ends - datetime.now(UTC)).total_seconds() <= 60 * 60
    silence_id = made[0]["id"]
    row = page.locator(f".silence-row[data-id='{silence_id}']")
    expect(row.locator(".silence-comment")).to_have_text(PAGE_COMMENT)
    expect(row.locator(".silence-author")).to_have_text(f"by {PAGE_USER}")
    expect(row.locator(".silence-matchers")).not_to_contain_text("severity")
    # The sync: Alertmanager suppresses the alert now, by that silence.
    expect(page.locator("#alert-am-state")).to_have_text("suppressed", timeout=SYNC_TIMEOUT_MS)
    expect(page.locator("#silenced-by")).to_contain_text(silence_id)

    # Expire it, after the confirmation.
    row.locator(".expire").click()
    page.locator(".confirm-expire").click()
    expect(page.locator("#silence-notice")).to_have_text(f"Silence {silence_id} expired.")
    expect(row).to_have_count(0)
    assert _active_silences(stack) == []
    expect(page.locator("#alert-am-state")).to_have_text("active", timeout=SYNC_TIMEOUT_MS)

    # Ack: who, on the page; a silence in Alertmanager, listed as an ack; no second Ack button.
    page.click("#ack-button")
    expect(page.locator("#acked-by")).to_contain_text(f"Acknowledged by {PAGE_USER}")
    expect(page.locator("#ack-button")).to_have_count(0)
    acks = _active_silences(stack)
    assert [s["comment"] for s in acks] == [f"Acknowledged by {PAGE_USER} in Remediation Engine"]
    expect(page.locator(f".silence-row[data-id='{acks[0]['id']}'] .kind")).to_have_text("ack")
    rows_before = stack.app.db_rows("SELECT count(*) AS n FROM silences")[0]["n"]

    # Alertmanager gone: the dialog says so, and nothing is recorded.
    stack.alertmanager.stop()
    try:
        page.click("#silence-button")
        page.fill("#silence-comment", PAGE_COMMENT)
        page.click("#silence-create")
        error = page.locator("#silence-dialog-error")
        expect(error).to_contain_text(re.compile("unreachable|refused", re.IGNORECASE), timeout=SYNC_TIMEOUT_MS)
        expect(page.locator("#silence-dialog")).to_be_visible()
        assert stack.app.db_rows("SELECT count(*) AS n FROM silences")[0]["n"] == rows_before
    finally:
        stack.alertmanager.start()
