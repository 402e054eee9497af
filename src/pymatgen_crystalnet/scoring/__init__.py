"""Scores shared by training, evaluation and the solver.

Density-map metrics (SSIM, PSNR, map CC, NMAE, best over rotations and shifts), forward
verification of a density against a pattern, and the ranking of candidates. This layer sits
below training, evaluation and the solver so that all three import the same definitions
downwards (see ``docs/architecture.md``).
"""
