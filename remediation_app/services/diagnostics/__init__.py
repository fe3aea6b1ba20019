"""Approval-gated diagnostics: a model proposes a command for a registered server, the policy refuses
anything outside its read-only set before anyone sees it, a person allowed on that server approves
or rejects, and an approved command runs once over SSH with its output going back to the model.

policy (the YAML document: parse, validate, widening), check (one command against it), policy_default
(the shipped read-only set), policy_store (the policy in force, saved and audited), proposals (create,
approve, reject, expire, list), execute (the SSH exec), runner (the lifespan task that runs approved
proposals and queues the model's follow-up), tools (the `propose_command` tool), results (what goes
back to the model).
"""
