"""The pages: one folder per area, each view (`<thing>.py`) beside its state (`<thing>_state.py`).

docs/development.md says which room a line belongs in."""
