"""Alert rules: which alerts are analysed now, kept for a person, or filed as noise.

engine   the rules engine: patterns (RE2), the cached rule set, decisions and their explanation,
         saving and deleting rules (validated, audited, version bumped)
admin    the limits an editable rule keeps, hit counters, reordering, a rule set with a draft
dry_run  a pasted notification read as the webhook reads it and explained rule by rule
io       the rule set as YAML: export, validation, import in one transaction
"""
