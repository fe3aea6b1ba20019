"""Shared look: colours for severities, statuses, actions, analysis urgencies and action risks."""

SEVERITY_COLORS = {"critical": "red", "error": "red", "warning": "orange", "info": "blue"}
STATUS_COLORS = {"firing": "red", "resolved": "green"}
ACTION_COLORS = {"auto_analyze": "violet", "manual": "gray", "ignore": "brown"}
URGENCY_COLORS = {"LOW": "green", "MEDIUM": "amber", "HIGH": "orange", "CRITICAL": "red"}
RISK_COLORS = {"low": "green", "medium": "amber", "high": "red"}
PAGE_MAX_WIDTH = "1400px"
