"""Independent-atom-model (IAM) electron density of a crystal (docs/science.md, 'The IAM truth density').

Each atom contributes the inverse Fourier transform of its Waasmaier–Kirfel form factor damped
by an isotropic Debye–Waller factor ``exp(−B s²)``. Every one of the six terms of a form factor
(five Gaussians and the constant) becomes a normalised Gaussian in real space::

    a · exp(−w s²)   ⟷   a · (4π / w)^{3/2} · exp(−4π² r² / w),     w = b + B  (w = B for c)

so the density is a sum of Gaussians over atoms and lattice translations, in e/Å³, and it
integrates to ``Σ f0(0) ≈ Z`` electrons per atom.

How it is evaluated
-------------------
Narrow terms (small ``w``) are summed in real space over the periodic images within a short
cutoff; wide terms (large ``w``, whose Fourier transforms fall off fast) are summed in
reciprocal space over the few reflections where they matter. The split (an Ewald-style
partition of the terms, not of each Gaussian) keeps both sums short for any cell shape, and
every truncation drops only contributions below ``eps`` of a term's peak (real space) or of
its value at ``S = 0`` (reciprocal space). The results are exact point values to that
tolerance, not band-limited approximations.

- :func:`iam_density` / :func:`iam_density_from_arrays`: any fractional points.
- :func:`iam_density_grid` / :func:`iam_grid_from_arrays`: the n×n×n grid of points
  ``(i/n, j/n, k/n)``: local stencils for the real-space part, one FFT for the reciprocal part.
- :func:`iam_density_direct`: the plain real-space sum of all terms (the slow reference).
- :class:`IAMPlan`: the per-crystal arrays both evaluations use; :mod:`.iam_torch` evaluates
  the same plans in torch, batched over crystals.
- :func:`electron_count`: what the density integrates to over one cell.

This module is the public face of the IAM; the code lives in :mod:`.iam_terms` (checked
inputs, the real/reciprocal split, wide-term structure factors), :mod:`.iam_points` (the
plan and exact point values), :mod:`.iam_grid` (fast grids) and
:mod:`.form_factors` (:func:`electron_count`).

Only numpy is needed here (pymatgen only for the ``Structure`` conveniences), so training can
compute targets on a machine without pymatgen or xraydb when given the coefficient table.
"""

from __future__ import annotations

from pymatgen_crystalnet.physics.form_factors import electron_count
from pymatgen_crystalnet.physics.iam_grid import iam_density_grid, iam_grid_from_arrays
from pymatgen_crystalnet.physics.iam_points import (
    IAMPlan,
    build_plan,
    evaluate_plan,
    iam_density,
    iam_density_direct,
    iam_density_from_arrays,
)
from pymatgen_crystalnet.physics.iam_terms import (
    DEFAULT_B_FACTOR,
    DEFAULT_EPS,
    GRID_SPLIT_WIDTH,
    POINT_SPLIT_WIDTH,
    structure_arrays,
)

__all__ = [
    "DEFAULT_B_FACTOR",
    "DEFAULT_EPS",
    "GRID_SPLIT_WIDTH",
    "POINT_SPLIT_WIDTH",
    "IAMPlan",
    "build_plan",
    "electron_count",
    "evaluate_plan",
    "iam_density",
    "iam_density_direct",
    "iam_density_from_arrays",
    "iam_density_grid",
    "iam_grid_from_arrays",
    "structure_arrays",
]
