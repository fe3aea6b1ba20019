"""Alertmanager webhook payloads for tests and benchmarks."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

GO_ZERO_TIME = "0001-01-01T00:00:00Z"


def am_alert(
    alertname: str = "HighCPU",
    *,
    status: str = "firing",
    severity: str = "warning",
    instance: str = "web-1:9100",
    job: str = "node",
    fingerprint: str | None = None,
    starts_at: str | None = None,
    ends_at: str = GO_ZERO_TIME,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    all_labels = {"alertname": alertname, "severity": severity, "instance": instance, "job": job, **(labels or {})}
    return {
        "status": status,
        "labels": all_labels,
        "annotations": {"summary": f"{alertname} on {instance}", **(annotations or {})},
        "startsAt": starts_at or datetime.now(UTC).isoformat(),
        "endsAt": ends_at,
        "generatorURL": "http://prometheus.example:9090/graph?g0.expr=up",
        "fingerprint": fingerprint or uuid.uuid4().hex[:16],
    }


def notification(
    *alerts: dict[str, Any], receiver: str = "remediation-engine", status: str | None = None
) -> dict[str, Any]:
    first = alerts[0] if alerts else {"labels": {}}
    return {
        "version": "4",
        "groupKey": '{}:{alertname="' + first["labels"].get("alertname", "") + '"}',
        "truncatedAlerts": 0,
        "status": status or (alerts[0]["status"] if alerts else "firing"),
        "receiver": receiver,
        "groupLabels": {"alertname": first["labels"].get("alertname", "")},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.example:9093",
        "alerts": list(alerts),
    }


def newer_alertmanager_notification() -> dict[str, Any]:
    """A version 4 payload as a newer Alertmanager might send it: fields this app has never heard of."""
    alert = am_alert("KubePodCrashLooping", severity="critical", fingerprint="f00dfeedf00dfeed")
    alert.update(
        {
            "silenceURL": "http://alertmanager.example:9093/#/silences/new",
            "inhibitedBy": [],
            "mutedBy": {"timeIntervals": ["weekend"]},
            "updatedAt": "2026-01-01T00:00:00.123456789Z",
            "receivers": [{"name": "remediation-engine"}],
        }
    )
    payload = notification(alert)
    payload.update(
        {
            "groupingRules": {"by": ["alertname"], "interval": "5m"},
            "alertmanagerVersion": "0.99.0",
            "cluster": {"peers": 3},
            "truncatedAlerts": 0,
        }
    )
    return payload


def grafana_notification() -> dict[str, Any]:
    """Grafana unified alerting's webhook: Alertmanager-shaped, version "1", with its own extras."""
    return {
        "receiver": "remediation-engine",
        "status": "firing",
        "orgId": 1,
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "HighLatency", "grafana_folder": "Prod", "severity": "critical"},
                "annotations": {"summary": "p99 latency above 2s"},
                "startsAt": "2026-01-01T10:00:00+01:00",
                "endsAt": GO_ZERO_TIME,
                "generatorURL": "http://grafana.example/alerting/grafana/abc/view",
                "fingerprint": "0a1b2c3d4e5f6a7b",
                "silenceURL": "http://grafana.example/alerting/silence/new",
                "dashboardURL": "http://grafana.example/d/xyz",
                "panelURL": "http://grafana.example/d/xyz?viewPanel=2",
                "values": {"B": 2.31, "C": 1},
                "valueString": "[ var='B' labels={} value=2.31 ]",
                "imageURL": None,
            }
        ],
        "groupLabels": {"alertname": "HighLatency"},
        "commonLabels": {"alertname": "HighLatency"},
        "commonAnnotations": {},
        "externalURL": "http://grafana.example/",
        "version": "1",
        "groupKey": '{}/{}:{alertname="HighLatency"}',
        "truncatedAlerts": 0,
        "title": "[FIRING:1] HighLatency Prod",
        "state": "alerting",
        "message": "**Firing**\n\nValue: B=2.31",
    }


def many_alerts(count: int, *, prefix: str = "bulk", starts_at: str = "2026-01-01T00:00:00Z") -> dict[str, Any]:
    """One notification carrying `count` distinct alerts."""
    alerts = [
        am_alert(
            f"Bulk{i % 10}",
            instance=f"host-{i}:9100",
            fingerprint=f"{prefix}{i:012d}",
            starts_at=starts_at,
        )
        for i in range(count)
    ]
    return notification(*alerts)


def encode(payload: Any) -> bytes:
    return json.dumps(payload).encode()
