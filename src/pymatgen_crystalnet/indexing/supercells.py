"""Supercells of a cell that holds only part of a formula unit (indexing with a formula).

A structure with a pseudo-translation — a Heusler compound whose superstructure lines
(``h, k, l`` all odd in the F cell) are all below the intensity cut — is indexed by its
sub-cell, which explains every observed line with fewer calculated lines than the true cell.
The positions cannot tell the two apart; the formula can: the sub-cell holds only about half a
formula unit by the fitted volumes of its elements
(:func:`~pymatgen_crystalnet.physics.formula_units.fitted_volume`).

For such a cell (primitive volume below :data:`~pymatgen_crystalnet.indexing.ranking.SUBCELL_FRACTION`
of a formula unit) this module builds the **derivative supercells** that hold a whole one:

* every sub-lattice of index ``n`` = 2–4 of its primitive lattice (one per lower-triangular
  Hermite normal form), for the indices from the smallest ``n_min`` at which ``n`` times the
  cell holds at least that fraction up to ``2 n_min``, and the cell doubled along every axis
  (index 8) — together these include, for a primitive cubic cell ``a``, the cF (index 2),
  cI (4) and cP (8) cells of edge ``2a``; for a hexagonal cell those with ``c`` doubled,
  ``a√3`` or the rhombohedral cell with ``c`` tripled; for a tetragonal P cell the
  I cell with ``a√2`` and ``2c``;
* of those, the ones whose lattice is (metrically, spglib through pymatgen) at least as
  symmetric as the cell's own lattice system, one per distinct conventional cell.

Each is refined by least squares with its own form and its own centring fixed
(:func:`~pymatgen_crystalnet.indexing.refine.refine_form`), indexed and scored like every
other cell (:func:`~pymatgen_crystalnet.indexing.cells.make_solution`), so it carries its own
figures of merit; the reciprocal lattice of a supercell contains the sub-cell's, so it indexes
every line the sub-cell indexes, and its merit is lower (more calculated lines). The ranking
(:func:`~pymatgen_crystalnet.indexing.ranking.rank_solutions`, rule 5) then puts such a
supercell before the sub-cell.
"""

from __future__ import annotations

import dataclasses
import logging
import math

import numpy as np
from numpy.typing import NDArray
from pymatgen.core import Composition, Lattice

from pymatgen_crystalnet.indexing.cells import make_solution
from pymatgen_crystalnet.indexing.forms import FORMS
from pymatgen_crystalnet.indexing.metric_symmetry import TOLERANCES, higher_symmetry_settings
from pymatgen_crystalnet.indexing.ranking import (
    SUBCELL_FRACTION,
    formula_fraction,
    hermite_forms,
    ranking_key,
)
from pymatgen_crystalnet.indexing.refine import refine_form
from pymatgen_crystalnet.indexing.solution import SYMMETRY_RANK, IndexingSolution

__all__ = ["MAX_HNF_INDEX", "MAX_SUPERCELLS", "supercell_indices", "supercell_solutions"]

logger = logging.getLogger(__name__)

#: Largest index whose sub-lattices are all enumerated (35 Hermite normal forms at index 4);
#: index 8 is tried only as the cell doubled along every axis.
MAX_HNF_INDEX: int = 4
_DOUBLED = 8
#: Supercells returned per cell, best first.
MAX_SUPERCELLS: int = 3


def supercell_indices(fraction: float) -> list[int]:
    """Indices tried for a cell holding ``fraction`` of a formula unit (empty when it holds enough).

    From the smallest ``n_min`` with ``n_min · fraction ≥ SUBCELL_FRACTION`` up to ``2 n_min``,
    within 2–:data:`MAX_HNF_INDEX`, and 8 (the doubled cell). None when ``n_min`` exceeds
    :data:`MAX_HNF_INDEX`: a cell holding under 0.7 / 4 of a formula unit is not the sub-cell of
    a pseudo-translation but a pattern read at the wrong wavelength or with the wrong formula
    (SrTiO3's Cu Kα sticks read as Mo Kα index as cF 3.60 Å, 0.17 of a formula unit per
    primitive cell, whose doubled cell would hold a plausible 1.4), which must stay implausible
    so that the solver refuses it.
    """
    if not fraction > 0 or fraction >= SUBCELL_FRACTION:
        return []
    n_min = max(2, math.ceil(SUBCELL_FRACTION / fraction - 1e-9))
    if n_min > MAX_HNF_INDEX:
        return []
    return [*range(n_min, min(2 * n_min, MAX_HNF_INDEX) + 1), _DOUBLED]


def _candidate_settings(
    prim: Lattice, indices: list[int], min_rank: int
) -> list[tuple[int, str, NDArray[np.float64], str]]:
    """(index, form system, p0, centring) of the distinct supercells at least ``min_rank`` symmetric."""
    mats: list[tuple[int, NDArray[np.float64]]] = []
    for n in indices:
        if n == _DOUBLED:
            mats.append((n, 2.0 * np.eye(3)))
        else:
            mats.extend((n, h.astype(float)) for h in hermite_forms(n))
    out: list[tuple[int, str, NDArray[np.float64], str]] = []
    seen: set[tuple] = set()
    for n, h in mats:
        settings = higher_symmetry_settings(Lattice(h @ prim.matrix), TOLERANCES[:1])
        if not settings:
            continue
        system, p0, centring = settings[0]  # the lattice's own (highest) symmetry
        sym = "trigonal" if system == "hexagonal" and centring == "R" else system
        if SYMMETRY_RANK[sym] < min_rank:
            continue
        key = (system, centring, tuple(np.round(p0 / p0.max(), 4)), n)
        if key in seen:
            continue
        seen.add(key)
        out.append((n, system, p0, centring))
    return out


def supercell_solutions(
    sol: IndexingSolution,
    tolerance: NDArray[np.float64],
    composition: Composition,
    *,
    max_zero_shift: float,
    sigma: NDArray[np.float64] | None = None,
) -> list[IndexingSolution]:
    """Refined derivative supercells of ``sol`` that hold a whole formula unit (see module docstring).

    ``tolerance`` (and ``sigma``) are per line of ``sol.two_theta``, as ``index_pattern`` uses
    them. Returns an empty list when ``sol`` holds at least ``SUBCELL_FRACTION`` of a formula
    unit. At most :data:`MAX_SUPERCELLS`, best first by the ranking merit with the ranking's
    5 % preference per step of symmetry. Each carries a note naming the cell it was built from.
    """
    fraction = formula_fraction(sol.primitive_lattice, composition)
    indices = supercell_indices(fraction)
    if not indices:
        return []
    tt, lam = np.asarray(sol.two_theta, dtype=float), float(sol.wavelength)
    formula = composition.reduced_formula
    out: list[IndexingSolution] = []
    for n, system, p0, centring in _candidate_settings(sol.primitive_lattice, indices, sol.symmetry_rank):
        # the centring is part of the supercell: fixed in the refinement and in the scoring
        form = dataclasses.replace(FORMS[system], centrings=(centring,))
        ref = refine_form(
            form, p0, tt, lam, tolerance, max_zero_shift=max_zero_shift, sigma=sigma, centring=centring
        )
        if ref is None:
            continue
        sup = make_solution(form, ref.params, ref.zero, ref.covariance, tt, lam, tolerance)
        if sup.centring != centring and not (centring == "Rrev" and sup.centring == "R"):
            continue  # the evaluation fell back to another centring: not this lattice
        sup.notes.append(
            f"Supercell (index {n}) of the {sol.bravais} cell "
            + "/".join(f"{x:.4f}" for x in sol.parameters[:3])
            + f" Å, whose primitive cell holds {fraction:.2f} {formula} "
            "formula units by fitted element volumes."
        )
        out.append(sup)
    # the best few only (by the ranking's merit and symmetry preference): the others index the
    # same lines with more calculated lines and would crowd the list
    out.sort(key=ranking_key)
    out = out[:MAX_SUPERCELLS]
    logger.debug(
        "%s cell holding %.2f %s: %d supercells (indices %s)",
        sol.bravais, fraction, formula, len(out), indices,
    )  # fmt: skip
    return out
