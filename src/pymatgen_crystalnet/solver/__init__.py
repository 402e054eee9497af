"""Solving structures from powder patterns: the solver, cubic indexing, forward verification."""
