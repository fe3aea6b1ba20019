"""Shared look: colours for severities, statuses and actions."""

SEVERITY_COLORS = {"critical": "red", "error": "red", "warning": "orange", "info": "blue"}
STATUS_COLORS = {"firing": "red", "resolved": "green"}
ACTION_COLORS = {"auto_analyze": "violet", "manual": "gray", "ignore": "brown"}
PAGE_MAX_WIDTH = "1400px"
