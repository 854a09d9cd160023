"""Exact tabular CMDP machinery (evaluation, constrained optimum by linear programming)."""
