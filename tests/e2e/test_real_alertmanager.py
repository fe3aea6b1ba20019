"""The real chain: Debian's prometheus -> prometheus-alertmanager -> the app's webhook.

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
from typing import Any, TypeVar

import httpx
import pytest

from tests.conftest import require_tool
from tests.support.app_server import AppServer
from tests.support.databases import sqlite_url
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
        app = AppServer(
            database_url=sqlite_url(tmp),
            data_dir=tmp / "data",
            name="am",
            env={"WEBHOOK_TOKEN": TOKEN},
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
