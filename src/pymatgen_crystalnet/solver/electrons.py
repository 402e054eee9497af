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
- otherwise the content is not known, and the candidate is left as predicted, with the mismatch
  shown: the electrons it holds, the formula's electrons per formula unit and the Z that count
  implies.

Scaling a density changes neither its pattern cosine nor its least-squares Rwp, so the ranking is
unchanged; each candidate records the count it held as predicted and the factor applied.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pymatgen_crystalnet.physics.cells import grid_electrons

if TYPE_CHECKING:
    from pymatgen.core import Composition, Lattice, Structure


__all__ = ["normalise_candidates", "structure_electrons"]


def structure_electrons(structure: Structure, volume: float) -> float:
    """Electrons of ``structure``'s atoms (occupancy-weighted Σ Z) in a cell of ``volume`` Å³."""
    total = sum(float(sp.Z) * float(occ) for site in structure for sp, occ in site.species.items())
    return total * float(volume) / float(structure.volume)


def _target(
    candidate: Any, best_structure: Structure | None, per_formula: float | None,
    z: int | None, conventional: Lattice | None,
) -> tuple[float | None, str]:  # fmt: skip
    volume = float(candidate.lattice.volume)
    if best_structure is not None:
        return structure_electrons(best_structure, volume), "structure"
    if z is not None and per_formula and conventional is not None:
        return z * per_formula * volume / float(conventional.volume), "given z"
    return None, "unknown"


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
    per_formula = None
    if composition is not None and len(composition) and composition.num_atoms > 0:
        per_formula = float(sum(el.Z * amt for el, amt in composition.reduced_composition.items()))
    for cand in candidates:
        held = grid_electrons(cand.grid, cand.lattice.volume)
        target, source = _target(
            cand, best_structures.get(cand.cell), per_formula, z, (conventional or {}).get(cand.cell)
        )
        record: dict[str, Any] = {"predicted": held, "source": source}
        if target is not None and held > 0:
            factor = target / held
            cand.grid = (cand.grid * factor).astype(cand.grid.dtype, copy=False)
            record.update(expected=target, scale=factor, held=grid_electrons(cand.grid, cand.lattice.volume))
        else:
            record.update(expected=None, scale=1.0, held=held)
            if per_formula:
                record["per_formula_unit"] = per_formula
                record["implied_z"] = held / per_formula
        cand.electrons = record
