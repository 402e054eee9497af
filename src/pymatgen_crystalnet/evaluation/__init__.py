"""Evaluation of trained models: the paper's protocol, the stricter scores, baselines, reports.

The density-map scores themselves (SSIM, PSNR, map CC, NMAE, best over rotations and shifts)
live in :mod:`pymatgen_crystalnet.scoring`, shared with training and the solver.

- ``config.py``: :class:`~.config.EvaluationConfig`, the one source of the settings and defaults.
- ``protocol.py``: :func:`~.protocol.evaluate`, the protocol on one split of a dataset export
  (orchestrates the modules below).
- ``selection.py``: seed splits, the model/export compatibility check, the crystal selection.
- ``batch.py``: the truth grid of a crystal; one batch of selected crystals with its inputs.
- ``scorers.py``: one scorer per method family (model, strict and selected; control;
  flat and other-crystal baselines; composition ablations) and the seeded latent sampler.
- ``baselines.py``: the control's pairing (another crystal of the same system), the flat-map
  and other-crystal baselines.
- ``notes.py``: the report's prose (split label, notes for the reader).
- ``result.py``: :class:`~.result.EvaluationResult` and :class:`~.result.Example`.
- ``summary.py``: per-system tables (μ ± σ) of the per-crystal rows.
- ``report.py``: JSON and Markdown, written atomically; figures through a writer it is given.
- ``merge.py``: joining evaluations of disjoint crystal selections.

Nothing heavy is imported here; import the submodules. ``crystalnet evaluate`` runs it all.
"""
