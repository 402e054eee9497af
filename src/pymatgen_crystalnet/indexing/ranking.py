"""Ranking of indexing solutions: one entry per lattice, plausible cells, symmetry preferred.

Three rules, applied to the cells every stage of the search returned:

1. **Plausible translations**: a cell whose shortest lattice translation is below
   :data:`MIN_TRANSLATION` (2.0 Å) is dropped. Two atoms of the same kind related by a
   lattice translation are never that close; the shortest translation of the ~30 000
   Materials Project crystals of the corpus is 2.13 Å (leaving aside a few molecular
   O2/N2 and boron cells). Such cells come from patterns with few lines, which a tiny cell
   with one long edge indexes easily.
2. **One entry per lattice**: cells whose primitive Niggli cells agree within 0.3 % and 0.3°
   are merged, keeping the most symmetric description when its merit is at least 70 % of
   the best, or 50 % when it indexes as many lines (the extra parameters of the less
   symmetric description then only fit noise).
3. **Derivative lattices**: the rest are ordered by ranking merit × 1.05^(symmetry rank).
   If the top cell is less symmetric than another cell that indexes as many lines with no
   more possible lines (Smith–Snyder ``N_poss``), at :data:`DERIVATIVE_MERIT` (60 %) of its
   merit or more, and the two lattices are derivative of each other (one is a sub-lattice of
   index 2–4 of the other), the more symmetric cell goes first: its lower merit then comes
   only from a larger mean discrepancy, not from more calculated lines. Example: the lines
   of a primitive cubic cell ``a`` are all indexed by the tetragonal cell ``a/√2, a/√2, a``
   (of any three integers two share a parity); the tetragonal cell's free ``c/a`` splits
   coincident lines and fits the position noise, so its M20 is higher, yet nothing in the
   positions asks for it.
4. **Formula units** (only with a formula): a cell whose primitive cell holds no whole number
   ``Z`` = 1–24 of formula units at 4–120 Å³ per atom
   (:mod:`~pymatgen_crystalnet.physics.formula_units`) is ranked after every cell that does
   (rules 1–3 order each group). It is kept, not dropped: the bounds are plausibility limits,
   and a wrong or partial formula (a solvate, a missing light element) should not make the
   right cell vanish; the solver refuses such cells anyway.
5. **Sub-cells** (only with a formula): if the top cell's primitive cell holds less than
   :data:`SUBCELL_FRACTION` (0.7) of a formula unit by the fitted volumes of its elements
   (:func:`formula_fraction`), the first cell in the order above that holds at least that
   fraction and a plausible ``Z``, indexes as many lines, and is a superlattice of index 2–8 of
   a cell ranked before it that holds less (a derivative supercell, e.g. one built by
   :mod:`~pymatgen_crystalnet.indexing.supercells`), goes first. The sub-cell stays in the
   list, second or later. On the corpus crystals held out of the volume fit, a true primitive
   cell holds less than 0.7 of a formula unit for 0.14 % (one formula unit at a volume below
   0.7 × the fitted one); a cell holding half a formula unit holds less than 0.7 unless its
   crystal is 1.4 × less dense than the fitted volumes say (2.8 % of them).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
from pymatgen.core import Lattice

from pymatgen_crystalnet.indexing.solution import IndexingSolution
from pymatgen_crystalnet.physics.formula_units import MAX_Z, fitted_volume, likely_z

if TYPE_CHECKING:
    from pymatgen.core import Composition

__all__ = [
    "DERIVATIVE_MERIT",
    "MIN_TRANSLATION",
    "SUBCELL_FRACTION",
    "assign_z",
    "derivative_lattices",
    "formula_fraction",
    "hermite_forms",
    "plausible",
    "rank_solutions",
    "ranking_key",
    "same_lattice",
]

logger = logging.getLogger(__name__)

#: Shortest lattice translation (Å) of a cell that is kept.
MIN_TRANSLATION: float = 2.0
#: Fraction of the top cell's ranking merit at which a more symmetric derivative lattice that
#: indexes as many lines is preferred.
DERIVATIVE_MERIT: float = 0.6
#: A primitive cell holding less than this fraction of a formula unit (by fitted element
#: volumes) is taken for a sub-cell when a derivative supercell holds more (rule 5).
SUBCELL_FRACTION: float = 0.7
#: Largest index of a supercell preferred to a sub-cell by rule 5.
_MAX_SUPERCELL_INDEX = 8
#: Cells whose Niggli cells agree this well (fraction, degrees) are one lattice in the ranking.
_SAME_LTOL, _SAME_ATOL = 3e-3, 0.3
#: Largest sub-lattice index examined by :func:`derivative_lattices`.
_MAX_INDEX = 4


def same_lattice(a: Lattice, b: Lattice, ltol: float = 1e-3, atol: float = 0.1) -> bool:
    """Whether two cells generate the same lattice (Niggli cells map within tolerances).

    ``ltol`` is fractional (on lengths), ``atol`` in degrees.
    """
    na, nb = a.get_niggli_reduced_lattice(), b.get_niggli_reduced_lattice()
    if abs(na.volume - nb.volume) > 3 * ltol * max(na.volume, nb.volume):
        return False
    return na.find_mapping(nb, ltol=ltol, atol=atol) is not None


def plausible(sol: IndexingSolution) -> bool:
    """Whether the cell's shortest lattice translation is at least :data:`MIN_TRANSLATION`."""
    return min(sol.primitive_lattice.get_niggli_reduced_lattice().abc) >= MIN_TRANSLATION


def ranking_key(sol: IndexingSolution) -> float:
    """Sort key of rule 3: the ranking merit with a 5 % preference per step of symmetry."""
    return -sol.score * 1.05**sol.symmetry_rank


def assign_z(sol: IndexingSolution, composition: Composition) -> bool:
    """Set ``sol.z`` (formula units per conventional cell) from the formula; False when no ``Z``
    of the primitive cell in 1..24 gives a plausible volume per atom (``z`` None, a note added).
    """
    z = likely_z(sol.primitive_lattice.volume, composition)
    sol.z = None if z is None else z * sol.lattice_points
    note = (
        f"No Z of 1-{MAX_Z} {composition.reduced_formula} per primitive cell "
        f"(V = {sol.primitive_lattice.volume:.4g} Å³) gives a plausible volume per atom."
    )
    if z is None and note not in sol.notes:
        sol.notes.append(note)
    return z is not None


def formula_fraction(primitive: Lattice, composition: Composition) -> float:
    """Formula units of ``composition``'s reduced formula that a primitive cell holds by volume.

    Its volume over :func:`~pymatgen_crystalnet.physics.formula_units.fitted_volume`.
    """
    return float(primitive.volume / fitted_volume(composition.reduced_composition))


def hermite_forms(index: int) -> Iterator[np.ndarray]:
    """Lower-triangular Hermite normal forms of determinant ``index`` (one per sub-lattice)."""
    for a in range(1, index + 1):
        if index % a:
            continue
        for c in range(1, index // a + 1):
            if (index // a) % c:
                continue
            f = index // (a * c)
            # rows a·v1, b·v1 + c·v2, d·v1 + e·v2 + f·v3; b and d reduced mod a, e mod c
            for b, d, e in itertools.product(range(a), range(a), range(c)):
                yield np.array([[a, 0, 0], [b, c, 0], [d, e, f]])


def derivative_lattices(
    a: Lattice, b: Lattice, max_index: int = _MAX_INDEX, ltol: float = _SAME_LTOL, atol: float = _SAME_ATOL
) -> int | None:
    """The index ``n`` (2 to ``max_index``) for which one lattice is a sub-lattice of index ``n``
    of the other, within tolerances; None when neither is.
    """
    fine, coarse = (a, b) if a.volume < b.volume else (b, a)
    ratio = coarse.volume / fine.volume
    n = round(ratio)
    if n < 2 or n > max_index or abs(ratio - n) > 3 * ltol * n:
        return None
    target = coarse.get_niggli_reduced_lattice()
    base = fine.get_niggli_reduced_lattice().matrix
    for h in hermite_forms(n):
        sup = Lattice(h @ base).get_niggli_reduced_lattice()
        if sup.find_mapping(target, ltol=ltol, atol=atol) is not None:
            return n
    return None


def _merge(ordered: list[IndexingSolution]) -> list[IndexingSolution]:
    kept: list[IndexingSolution] = []
    reduced: list[Lattice] = []
    for sol in ordered:
        niggli = sol.primitive_lattice.get_niggli_reduced_lattice()
        for i, other in enumerate(reduced):
            if abs(niggli.volume - other.volume) > 3 * _SAME_LTOL * other.volume:
                continue
            if niggli.find_mapping(other, ltol=_SAME_LTOL, atol=_SAME_ATOL) is None:
                continue
            if sol.symmetry_rank > kept[i].symmetry_rank and (
                sol.score >= 0.7 * kept[i].score
                # as many lines indexed: the lower symmetry's extra freedom only fits noise
                or (sol.n_indexed >= kept[i].n_indexed and sol.score >= 0.5 * kept[i].score)
            ):
                kept[i] = sol
            break
        else:
            kept.append(sol)
            reduced.append(niggli)
    return kept


def rank_solutions(
    solutions: list[IndexingSolution], max_solutions: int, composition: Composition | None = None
) -> list[IndexingSolution]:
    """Plausible cells, one per lattice, best first (see the module docstring).

    With ``composition``, each cell's ``z`` is set and cells that hold no plausible ``Z`` go last.
    """
    ordered = sorted((s for s in solutions if plausible(s)), key=lambda s: -s.score)
    if len(ordered) < len(solutions):
        logger.debug(
            "%d cells with a translation below %.1f Å dropped", len(solutions) - len(ordered), MIN_TRANSLATION
        )
    kept = _merge(ordered)
    kept.sort(key=ranking_key)
    if composition is not None:
        fits = {id(s): assign_z(s, composition) for s in kept}
        kept.sort(key=lambda s: not fits[id(s)])  # stable: the merit order within each group
    if kept:
        top = kept[0]
        for j, sol in enumerate(kept[1:], 1):
            if (
                sol.symmetry_rank > top.symmetry_rank
                and sol.n_indexed >= top.n_indexed
                and sol.f_n_poss <= top.f_n_poss
                and sol.score >= DERIVATIVE_MERIT * top.score
                and (composition is None or sol.z is not None or top.z is None)
                and derivative_lattices(sol.primitive_lattice, top.primitive_lattice) is not None
            ):
                logger.debug("%s preferred to its less symmetric derivative %s", sol.bravais, top.bravais)
                kept.insert(0, kept.pop(j))
                break
    if composition is not None and kept:
        kept = _supercells_first(kept, composition)
    return kept[:max_solutions]


def _supercells_first(kept: list[IndexingSolution], composition: Composition) -> list[IndexingSolution]:
    """Rule 5: a derivative supercell that holds a formula unit before a top cell that does not."""
    fraction = [formula_fraction(s.primitive_lattice, composition) for s in kept]
    top = kept[0]
    if fraction[0] >= SUBCELL_FRACTION:
        return kept
    for j in range(1, len(kept)):
        sol = kept[j]
        if fraction[j] < SUBCELL_FRACTION or sol.z is None or sol.n_indexed < top.n_indexed:
            continue
        subs = [
            s for s, f in zip(kept[:j], fraction[:j], strict=True)
            if f < SUBCELL_FRACTION and s.z is not None and s.n_indexed <= sol.n_indexed
        ]  # fmt: skip
        if any(
            derivative_lattices(sol.primitive_lattice, s.primitive_lattice, max_index=_MAX_SUPERCELL_INDEX)
            is not None
            for s in subs
        ):
            logger.debug(
                "%s (%.2f formula units) preferred to the sub-cell %s (%.2f)",
                sol.bravais, fraction[j], top.bravais, fraction[0],
            )  # fmt: skip
            return [sol, *kept[:j], *kept[j + 1 :]]
    return kept
