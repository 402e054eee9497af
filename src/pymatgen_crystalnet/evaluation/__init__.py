"""Evaluation of trained models: scores, alignment, the paper's protocol, baselines, reports.

- ``metrics.py``: batched torch SSIM (scikit-image semantics), PSNR, map CC and NMAE, best over
  the 24 grid rotations and (translation-aware) over the grid shifts; the scikit-image loop as
  the reference.
- ``baselines.py``: the control's pairing (another crystal of the same system), the flat-map
  and other-crystal baselines.
- ``protocol.py``: :func:`~.protocol.evaluate`, the protocol on one split of a dataset export
  (paper protocol, strict, translation-aware, control, baselines, composition ablations,
  forward verification).
- ``report.py``: per-system tables (μ ± σ), JSON and Markdown, written atomically.

Nothing heavy is imported here; import the submodules. ``crystalnet evaluate`` runs it all.
"""
