"""Shared look: colours for severities, statuses, actions, analysis urgencies, action risks and server environments."""

SEVERITY_COLORS = {"critical": "red", "error": "red", "warning": "orange", "info": "blue"}
STATUS_COLORS = {"firing": "red", "resolved": "green"}
ACTION_COLORS = {"auto_analyze": "violet", "manual": "gray", "ignore": "brown"}
URGENCY_COLORS = {"LOW": "green", "MEDIUM": "amber", "HIGH": "orange", "CRITICAL": "red"}
RISK_COLORS = {"low": "green", "medium": "amber", "high": "red"}
PAGE_MAX_WIDTH = "1400px"
ENVIRONMENT_COLORS = {"prod": "red", "production": "red", "staging": "amber", "stage": "amber", "dev": "green"}
