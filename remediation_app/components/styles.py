"""Shared look: colours for severities, statuses, actions, analysis urgencies, action risks, server
environments and kinds of evidence."""

SEVERITY_COLORS = {"critical": "red", "error": "red", "warning": "orange", "info": "blue"}
STATUS_COLORS = {"firing": "red", "resolved": "green", "open": "red"}  # "open": an incident
ACTION_COLORS = {"auto_analyze": "violet", "manual": "gray", "ignore": "brown"}
URGENCY_COLORS = {"LOW": "green", "MEDIUM": "amber", "HIGH": "orange", "CRITICAL": "red"}
RISK_COLORS = {"low": "green", "medium": "amber", "high": "red"}
PAGE_MAX_WIDTH = "1400px"
ENVIRONMENT_COLORS = {"prod": "red", "production": "red", "staging": "amber", "stage": "amber", "dev": "green"}
# Metric evidence blue, our store's amber/orange, what the model asked for violet.
EVIDENCE_KIND_COLORS = {
    "metric_value": "blue",
    "metric": "blue",
    "related_alerts": "orange",
    "history": "amber",
    "tool_range": "violet",
    "tool_instant": "violet",
    "tool_alerts": "violet",
    "tool_history": "violet",
    "diagnostic": "teal",  # a command a person approved (services/diagnostics)
    "similar_incidents": "green",  # past incidents and their fixes (services/memory)
}
