"""Admin pages, one folder each, built with the admin kit (kit_state.py: the guarded base state and the
list/edit state; kit.py: their views)."""
