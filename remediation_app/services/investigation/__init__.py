"""Investigation: datasources, evidence collectors, tool loop, redaction."""
