"""The example alerting rules (remediation_app/deploy/prometheus-rules.yml): valid for Prometheus
(`promtool check rules`), firing when they should and silent when all is well (`promtool test
rules`, with synthetic series), and written against metric names the engine really exports."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import require_tool

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "remediation_app" / "deploy" / "prometheus-rules.yml"
JOB = "remediation-engine"
INSTANCE = "engine-1:8080"
SERIES_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}


def rules() -> list[dict[str, Any]]:
    return [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]


def series(name: str, values: str, **labels: str) -> dict[str, str]:
    all_labels = {"job": JOB, "instance": INSTANCE, **labels}
    inside = ",".join(f'{k}="{v}"' for k, v in sorted(all_labels.items()))
    return {"series": f"{name}{{{inside}}}", "values": values}


def firing(alertname: str, **labels: str) -> dict[str, Any]:
    inside = ",".join(
        f'{k}="{v}"' for k, v in sorted({"alertname": alertname, "alertstate": "firing", **labels}.items())
    )
    return {"labels": f"ALERTS{{{inside}}}", "value": 1}


def expected_firing(*names: str) -> list[dict[str, Any]]:
    """ALERTS samples for these alerts, with the labels each rule keeps (its `by`) and its severity."""
    samples = []
    for rule in rules():
        if rule["alert"] not in names:
            continue
        by = re.search(r"by \(([^)]*)\)", rule["expr"])
        kept = [label.strip() for label in by.group(1).split(",")] if by else ["job", "instance"]
        labels = {label: {"job": JOB, "instance": INSTANCE}[label] for label in kept}
        samples.append(firing(rule["alert"], severity=rule["labels"]["severity"], **labels))
    assert len(samples) == len(names), names
    return samples


def run_promtool(*args: str) -> subprocess.CompletedProcess[str]:
    promtool = require_tool("promtool")
    return subprocess.run([promtool, *args], capture_output=True, text=True, timeout=60)


def test_promtool_check_rules():
    done = run_promtool("check", "rules", str(RULES))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(rules())} rules found" in done.stdout


def test_rules_fire_on_trouble_and_stay_silent_when_healthy(tmp_path: Path):
    names = [rule["alert"] for rule in rules()]
    trouble = [
        series("up", "0x40"),
        series("remediation_webhook_requests_total", "0+10x40", status="503"),
        series("remediation_webhook_requests_total", "0+2x40", status="401"),
        series("remediation_analysis_queue_depth", "120x40", status="pending"),
        series("remediation_analysis_jobs_total", "0+5x40", outcome="failed"),
        series("remediation_analysis_jobs_total", "0+1x40", outcome="succeeded"),
        series("remediation_llm_budget_reached", "1x40"),
        series("remediation_metrics_database_up", "0x40"),
        series("remediation_notify_deliveries_total", "0+1x40", outcome="failed", target="slack"),
    ]
    healthy = [
        series("up", "1x40"),
        series("remediation_webhook_requests_total", "0+10x40", status="200"),
        series("remediation_webhook_requests_total", "0x40", status="503"),
        series("remediation_webhook_requests_total", "0x40", status="401"),
        series("remediation_analysis_queue_depth", "3x40", status="pending"),
        series("remediation_analysis_jobs_total", "0+1x40", outcome="failed"),
        series("remediation_analysis_jobs_total", "0+9x40", outcome="succeeded"),
        series("remediation_llm_budget_reached", "0x40"),
        series("remediation_metrics_database_up", "1x40"),
        series("remediation_notify_deliveries_total", "0x40", outcome="failed", target="slack"),
        series("remediation_notify_deliveries_total", "0+5x40", outcome="sent", target="slack"),
    ]
    # A backlog that started 5 minutes ago is not an alert yet (for: 10m); it is 10 minutes later.
    brief_backlog = [series("remediation_analysis_queue_depth", "3x24 120x20", status="pending")]
    alerts = 'ALERTS{alertstate="firing"}'
    suite = {
        "rule_files": [str(RULES)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": trouble,
                "promql_expr_test": [{"expr": alerts, "eval_time": "35m", "exp_samples": expected_firing(*names)}],
            },
            {
                "interval": "1m",
                "input_series": healthy,
                "promql_expr_test": [{"expr": alerts, "eval_time": "35m", "exp_samples": []}],
            },
            {
                "interval": "1m",
                "input_series": brief_backlog,
                "promql_expr_test": [
                    {"expr": alerts, "eval_time": "30m", "exp_samples": []},
                    {
                        "expr": alerts,
                        "eval_time": "36m",
                        "exp_samples": expected_firing("RemediationAnalysisQueueBacklog"),
                    },
                ],
            },
        ],
    }
    test_file = tmp_path / "rules_test.yml"
    test_file.write_text(yaml.safe_dump(suite, sort_keys=False))
    done = run_promtool("test", "rules", str(test_file))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


@pytest.mark.anyio
async def test_rules_use_only_metrics_the_engine_exports(client):
    exported = {"up"}  # Prometheus's own, per scrape target
    for family in text_string_to_metric_families((await client.get("/metrics")).text):
        exported |= {family.name + suffix for suffix in SERIES_SUFFIXES[family.type]}
    used = {
        name for rule in rules() for name in re.findall(r"\b(remediation_\w+|up)\b(?=\s*[{\[)=<>]|\s*$)", rule["expr"])
    }
    assert used, "no metric found in the rules"
    assert used <= exported, used - exported
    assert {rule["alert"] for rule in rules()} >= {
        "RemediationEngineDown",
        "RemediationWebhookServerErrors",
        "RemediationAnalysisQueueBacklog",
        "RemediationLLMFailing",
        "RemediationLLMBudgetReached",
    }
