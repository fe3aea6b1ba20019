"""Alerts: ingest (one webhook notification, one transaction), store (listing and reading alerts),
incidents (alerts grouped by Alertmanager's groupKey)."""
