"""Alertmanager webhook payloads for tests and benchmarks."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any


def am_alert(
    alertname: str = "HighCPU",
    *,
    status: str = "firing",
    severity: str = "warning",
    instance: str = "web-1:9100",
    job: str = "node",
    fingerprint: str | None = None,
    starts_at: str | None = None,
    ends_at: str = "0001-01-01T00:00:00Z",
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
