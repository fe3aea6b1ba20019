"""Alertmanager both ways: the webhook payload it sends (payload), and its API v2 (client,
connections, silences, acks, sync)."""
