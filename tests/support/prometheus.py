"""Start Debian's prometheus and prometheus-alertmanager on loopback ports, for e2e and integration tests.

Each process runs in its own process group with its configuration, data and log in one
directory; `stop()` ends the whole group (SIGTERM, then SIGKILL). Clustering is off. A Prometheus
can be given history before it starts (`Prometheus.backfill`, promtool's OpenMetrics import) and
targets to scrape; tests/support/prom_history.py builds one with known series on top of this.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx

from tests.support.app_server import free_port


class ManagedProcess:
    """One long-running tool, logging to `log_path`; a context manager."""

    def __init__(self, name: str, argv: Sequence[str], workdir: Path, ready_url: str) -> None:
        self.name = name
        self.argv = list(argv)
        self.workdir = workdir
        self.ready_url = ready_url
        self.log_path = workdir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30) -> ManagedProcess:
        self.workdir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                self.argv,
                cwd=self.workdir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(self.ready_url, timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} not ready within {timeout}s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def __enter__(self) -> ManagedProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _write_yaml(path: Path, data: dict[str, Any]) -> Path:
    """JSON is YAML: no YAML library needed, and no quoting surprises."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


def webhook_receiver(name: str, url: str, token: str | None, *, send_resolved: bool = True) -> dict[str, Any]:
    """An Alertmanager 0.25 receiver posting to `url`, with a bearer token if given."""
    config: dict[str, Any] = {"url": url, "send_resolved": send_resolved, "max_alerts": 0}
    if token is not None:
        config["http_config"] = {"authorization": {"type": "Bearer", "credentials": token}}
    return {"name": name, "webhook_configs": [config]}


def alertmanager_config(receivers: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Every alert goes to every receiver (each route continues), grouped by alertname, fast."""
    timing = {"group_wait": "1s", "group_interval": "1s", "repeat_interval": "24h"}
    return {
        "route": {
            "receiver": receivers[0]["name"],
            "group_by": ["alertname"],
            **timing,
            "routes": [{"receiver": r["name"], "continue": True, **timing} for r in receivers],
        },
        "receivers": list(receivers),
    }


class Alertmanager(ManagedProcess):
    """Alertmanager with clustering off, its state in `workdir`."""

    def __init__(self, binary: str, workdir: Path, config: dict[str, Any], *, port: int | None = None) -> None:
        port = port or free_port()
        self.url = f"http://127.0.0.1:{port}"
        config_file = _write_yaml(workdir / "alertmanager.yml", config)
        super().__init__(
            "alertmanager",
            [
                binary,
                f"--config.file={config_file}",
                f"--storage.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                f"--web.external-url={self.url}/",
                "--cluster.listen-address=",
                "--log.level=debug",
            ],
            workdir,
            ready_url=f"{self.url}/-/ready",
        )

    def metrics(self) -> str:
        return httpx.get(f"{self.url}/metrics", timeout=5).text


def always_firing_rule(alertname: str, labels: dict[str, str], summary: str, expr: str = "vector(1)") -> dict[str, Any]:
    return {"alert": alertname, "expr": expr, "for": "0s", "labels": labels, "annotations": {"summary": summary}}


class Prometheus(ManagedProcess):
    """Prometheus evaluating `rules` every second and sending to `alertmanager_url` (when given),
    scraping `scrape_targets` ("host:port", job "live") every second."""

    def __init__(
        self,
        binary: str,
        workdir: Path,
        *,
        alertmanager_url: str | None = None,
        rules: Sequence[dict[str, Any]] = (),
        external_labels: dict[str, str] | None = None,
        port: int | None = None,
        scrape_targets: Sequence[str] = (),
        retention: str = "30d",
    ) -> None:
        port = port or free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.data_dir = workdir / "data"
        self.rules_file = workdir / "rules.yml"
        self.write_rules(rules)
        config: dict[str, Any] = {
            "global": {
                "scrape_interval": "1s",
                "evaluation_interval": "1s",
                "external_labels": external_labels or {},
            },
            "rule_files": [str(self.rules_file)],
            "scrape_configs": [],
        }
        if alertmanager_url is not None:
            am_host = alertmanager_url.removeprefix("http://").rstrip("/")
            config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [am_host]}]}]}
        if scrape_targets:
            config["scrape_configs"] = [{"job_name": "live", "static_configs": [{"targets": list(scrape_targets)}]}]
        config_file = _write_yaml(workdir / "prometheus.yml", config)
        super().__init__(
            "prometheus",
            [
                binary,
                f"--config.file={config_file}",
                f"--storage.tsdb.path={self.data_dir}",
                # Backfilled blocks older than the retention would be deleted at start.
                f"--storage.tsdb.retention.time={retention}",
                f"--web.listen-address=127.0.0.1:{port}",
                f"--web.external-url={self.url}/",
                "--web.enable-lifecycle",
                "--rules.alert.resend-delay=1s",
                "--log.level=debug",
            ],
            workdir,
            ready_url=f"{self.url}/-/ready",
        )

    def backfill(self, promtool: str, openmetrics: str) -> str:
        """Write `openmetrics` (timestamps in seconds, ending with "# EOF") into the data directory
        as TSDB blocks, before `start()`. Every sample must be older than the start: the head block
        then begins after the newest backfilled one and nothing overlaps. Returns promtool's report."""
        if self.proc is not None:
            raise RuntimeError("backfill before start(): a running Prometheus does not see new blocks")
        source = self.workdir / "history.om"
        self.workdir.mkdir(parents=True, exist_ok=True)
        source.write_text(openmetrics)
        done = subprocess.run(
            [promtool, "tsdb", "create-blocks-from", "openmetrics", str(source), str(self.data_dir)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode != 0:
            raise RuntimeError(f"promtool create-blocks-from failed ({done.returncode}):\n{done.stdout}{done.stderr}")
        return done.stdout

    def write_rules(self, rules: Sequence[dict[str, Any]]) -> None:
        _write_yaml(self.rules_file, {"groups": [{"name": "e2e", "interval": "1s", "rules": list(rules)}]})

    def reload(self, rules: Sequence[dict[str, Any]]) -> None:
        """Replace the rule file and reload; returns once Prometheus accepted it."""
        self.write_rules(rules)
        response = httpx.post(f"{self.url}/-/reload", timeout=10)
        response.raise_for_status()


def metric_value(metrics_text: str, name: str, match: Callable[[str], bool] = lambda _labels: True) -> float:
    """Sum of one metric's samples (Prometheus text format) whose label block satisfies `match`."""
    total = 0.0
    for line in metrics_text.splitlines():
        if not line.startswith(name) or line.startswith("#"):
            continue
        series, _, value = line.rpartition(" ")
        metric, _, labels = series.partition("{")
        if metric == name and match(labels):
            total += float(value)
    return total
