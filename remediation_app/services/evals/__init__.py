"""The evaluation harness (issue #18): cases replayed through the real investigation, every model
scored against each case's rubric, runs stored and reported (docs/evals.md)."""
