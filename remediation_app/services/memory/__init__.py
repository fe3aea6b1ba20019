"""Incident memory (issue #17): outcomes people record, the engine's verdict on their fixes, similar past
incidents (also evidence of new analyses), reliability figures and labelled cases (docs/memory.md)."""
