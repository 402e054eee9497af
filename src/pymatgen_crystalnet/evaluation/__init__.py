"""Evaluation of trained models: scores, alignment, the paper's protocol, baselines, reports.

- ``metrics.py``: batched torch SSIM (scikit-image semantics), PSNR, map CC and NMAE, best over
  the 24 grid rotations and (translation-aware) over the grid shifts.

Nothing heavy is imported here; import the submodules.
"""
