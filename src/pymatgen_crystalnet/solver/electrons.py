"""The electrons a candidate density holds, and the number the cell should hold.

The network's densities are not constrained to any electron count (the bundled model's BaO
densities hold 8.5–27 of the cell's 64 electrons). Where the cell content is fixed, the solver
rescales each density to hold it:

- a **structure** solved on the candidate's cell fixes the content: the electrons of its atoms
  (Σ Z over the sites, scaled from the structure's cell to the candidate's by volume); every
  candidate on that cell is rescaled to the best structure's count (a density is a proposal for
  that cell, whichever sample it came from);
- otherwise a **given Z** (formula units per conventional cell, as the structure step counts them)
  and the formula fix it: Z × electrons per formula unit, scaled to the candidate's cell;
- otherwise the formula and the cell's volume fix it: the formula units the cell holds by its
  volume over the fitted element volumes
  (:func:`~pymatgen_crystalnet.physics.formula_units.estimated_z`, the true Z for 95–97 % of
  corpus crystals) × the electrons per formula unit;
- without a formula the content is not known, and the candidate is left as predicted.

Each record keeps the count the candidate held as predicted and, with a formula, the Z that
count implies (the network's own densities hold 0.4–0.8 of the cell's electrons: see the model
card).

Scaling a density changes neither its pattern cosine nor its least-squares Rwp, so the ranking is
unchanged; each candidate records the count it held as predicted and the factor applied.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pymatgen_crystalnet.physics.cells import grid_electrons
from pymatgen_crystalnet.physics.formula_units import estimated_z, formula_electrons

if TYPE_CHECKING:
    from pymatgen.core import Composition, Lattice, Structure


__all__ = ["normalise_candidates", "structure_electrons"]


def structure_electrons(structure: Structure, volume: float) -> float:
    """Electrons of ``structure``'s atoms (occupancy-weighted Σ Z) in a cell of ``volume`` Å³."""
    total = sum(float(sp.Z) * float(occ) for site in structure for sp, occ in site.species.items())
    return total * float(volume) / float(structure.volume)


def _target(
    candidate: Any, best_structure: Structure | None, composition: Composition | None,
    per_formula: float | None, z: int | None, conventional: Lattice | None,
) -> tuple[float | None, str]:  # fmt: skip
    volume = float(candidate.lattice.volume)
    if best_structure is not None:
        return structure_electrons(best_structure, volume), "structure"
    if composition is None or per_formula is None:
        return None, "unknown"
    if z is not None and conventional is not None:
        return z * per_formula * volume / float(conventional.volume), "given z"
    return estimated_z(volume, composition) * per_formula, "formula and volume"


def normalise_candidates(
    candidates: list[Any],
    *,
    best_structures: dict[int, Structure],
    composition: Composition | None,
    z: int | None = None,
    conventional: dict[int, Lattice] | None = None,
) -> None:
    """Rescale each candidate's density to the electrons its cell should hold, where known.

    Parameters
    ----------
    candidates
        The solver's candidates (``grid``, ``lattice``, ``cell`` attributes; updated in place:
        ``grid`` rescaled, ``electrons`` filled in).
    best_structures
        The best solved structure per cell index (cells without one are absent).
    composition
        The formula, or None.
    z
        Formula units per conventional cell, when the user gave it.
    conventional
        The conventional lattice per cell index (for ``z``).
    """
    if composition is not None and (not len(composition) or composition.num_atoms <= 0):
        composition = None
    per_formula = formula_electrons(composition) if composition is not None else None
    for cand in candidates:
        held = grid_electrons(cand.grid, cand.lattice.volume)
        target, source = _target(
            cand, best_structures.get(cand.cell), composition, per_formula, z,
            (conventional or {}).get(cand.cell),
        )  # fmt: skip
        record: dict[str, Any] = {"predicted": held, "source": source}
        if per_formula is not None:
            record.update(per_formula_unit=per_formula, implied_z=held / per_formula)
        if target is not None and held > 0:
            factor = target / held
            cand.grid = (cand.grid * factor).astype(cand.grid.dtype, copy=False)
            record.update(expected=target, scale=factor, held=grid_electrons(cand.grid, cand.lattice.volume))
        else:
            record.update(expected=None, scale=1.0, held=held)
        cand.electrons = record
