"""Scores shared by training, evaluation and the solver.

Density-map metrics (SSIM, PSNR, map CC, NMAE, best over rotations and shifts), forward
verification of a density against a pattern, and the ranking of candidates. This layer sits
below training, evaluation and the solver so that all three import the same definitions
downwards (see ``docs/architecture.md``).

- ``density_metrics.py``: SSIM (scikit-image semantics), PSNR, map CC and NMAE of grids.
- ``rotations.py``: the 24 proper rotations of the cubic grid and their gather-index tables.
- ``alignment.py``: the scores best over the rotations and (translation-aware) the grid shifts,
  batched and chunked; best sample per crystal.
- ``reference.py``: the scikit-image loop the torch scores are tested against.
- ``verification.py``: forward verification of a density against a pattern; the ranking key.
"""
