"""Remediation Engine: an AIOps console for Prometheus Alertmanager."""
