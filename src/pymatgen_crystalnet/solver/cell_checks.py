"""Checks a cell must pass before the model is run on it, and the agreement a result must reach.

Rules (each refusal is a :class:`CellRefused`, a ``ValueError`` naming the problem):

Figures of merit
    An indexed cell needs de Wolff ``M20 ≥ MIN_M20`` (10, the usual threshold below which an
    indexing is not trusted) and at most ``MAX_UNINDEXED`` (2) unindexed lines. A given cell is
    not refined, so it is judged by how many of the first 20 lines it indexes: at least
    ``MIN_INDEXED_FRACTION`` (80 %, so two impurity lines in 20 are tolerated) and
    ``M20 ≥ MIN_M20`` over the lines it indexes (not for a 1024-bin vector, whose 0.18° bins
    make M20 a measure of the binning).
Volume per atom
    With the formula known, the canonical cell must hold ``Z`` formula units, ``Z`` from 1 to
    ``MAX_Z`` (24), at a volume per atom between ``MIN_VOLUME_PER_ATOM`` (4 Å³) and
    ``MAX_VOLUME_PER_ATOM`` (120 Å³); the rule and its sources are in
    :mod:`~pymatgen_crystalnet.physics.formula_units`, which indexing also uses. Without a
    formula the cell must hold 1 to ``MAX_ATOMS`` atoms at those volumes.
Coverage
    The lattice system must be one the model was trained on (its metadata ``data.counts``:
    the bundled model knows cubic and trigonal). A hexagonal P lattice is shared by trigonal P
    and hexagonal crystals, so it is accepted by a trigonal model with a note.
Agreement (after solving)
    The best candidate's pattern cosine must reach ``MIN_COSINE``; below it the result says
    "no solution found" (see ``docs/solver.md`` for how the threshold was chosen).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pymatgen_crystalnet.physics.formula_units import (
    MAX_VOLUME_PER_ATOM,
    MAX_Z,
    MIN_VOLUME_PER_ATOM,
    atoms_per_formula_unit,
    likely_z,
    plausible_z,
)

if TYPE_CHECKING:
    from pymatgen.core import Composition

    from pymatgen_crystalnet.solver.lattice import SolveCell

__all__ = [
    "MAX_Z",
    "MIN_COSINE",
    "MIN_M20",
    "CellRefused",
    "check_coverage",
    "check_merit",
    "check_volume",
    "covered_systems",
]

MIN_M20: float = 10.0
MAX_UNINDEXED: int = 2
MIN_INDEXED_FRACTION: float = 0.8
MAX_ATOMS: int = 200
#: Smallest pattern cosine of the best candidate that counts as a solution. Chosen on the
#: validation split (24 crystals, bundled model, 5 candidates, 50³; docs/solver.md): the best
#: cosine on the right cell was 0.31–1.00, on a wrong cell (scaled by 1.1, or another
#: crystal's) 0.00–0.18; 0.25 is the middle of that gap.
MIN_COSINE: float = 0.25

#: Lattice systems a model trained on each crystal system can be given.
_LATTICES_OF_SYSTEM: dict[str, tuple[str, ...]] = {
    "cubic": ("cubic",),
    "tetragonal": ("tetragonal",),
    "orthorhombic": ("orthorhombic",),
    "hexagonal": ("hexagonal",),
    "trigonal": ("trigonal", "hexagonal"),
    "monoclinic": ("monoclinic",),
    "triclinic": ("triclinic",),
}


class CellRefused(ValueError):
    """The cell (given or indexed) is not one the solver can trust; the message says why."""


def covered_systems(metadata: Mapping[str, Any]) -> tuple[str, ...] | None:
    """Crystal systems the model was trained on, from its metadata (None: not recorded)."""
    systems = metadata.get("crystal_systems")
    if systems is None:
        counts = (metadata.get("data") or {}).get("counts")
        if isinstance(counts, Mapping):
            systems = [s for s, by_split in counts.items() if not isinstance(by_split, Mapping)
                       or by_split.get("train", 1)]  # fmt: skip
    if not systems:
        return None
    return tuple(sorted(str(s) for s in systems if str(s) in _LATTICES_OF_SYSTEM))


def check_coverage(cell: SolveCell, systems: tuple[str, ...] | None) -> None:
    """Refuse a cell whose lattice system the model was not trained on (note a shared hP lattice)."""
    if systems is None:
        cell.notes.append("The model does not record which crystal systems it was trained on.")
        return
    allowed = {lat for s in systems for lat in _LATTICES_OF_SYSTEM[s]}
    if cell.crystal_system not in allowed:
        raise CellRefused(
            f"The {cell.source} cell is {cell.crystal_system} ({_abc(cell)}), a lattice system the model "
            f"was not trained on (it knows {', '.join(systems)} crystals); its densities there would be "
            "meaningless. Use a model trained on that system."
        )
    if cell.crystal_system == "hexagonal" and "hexagonal" not in systems:
        cell.notes.append(
            "Hexagonal P lattice: the model was trained on trigonal crystals, which share it; a "
            "hexagonal (6-fold) crystal is outside its training."
        )


def _abc(cell: SolveCell) -> str:
    abc = ", ".join(f"{v:.4f}" for v in cell.incoming.abc)
    ang = ", ".join(f"{v:.2f}" for v in cell.incoming.angles)
    return f"a, b, c = {abc} Å; α, β, γ = {ang}°"


def check_merit(cell: SolveCell) -> None:
    """Refuse a cell whose figures of merit fail (see the module docstring)."""
    m = cell.merit
    if cell.source == "given":
        frac = m["n_indexed_first20"] / max(1, m["n_first20"])
        if frac < MIN_INDEXED_FRACTION:
            raise CellRefused(
                f"The given cell ({_abc(cell)}) contradicts the pattern: it indexes only "
                f"{m['n_indexed_first20']} of the first {m['n_first20']} lines within "
                f"{m['tolerance']:.3f}° 2θ "
                f"(best zero shift {m['zero_shift']:+.3f}°; at least {MIN_INDEXED_FRACTION:.0%} needed). "
                "Check the cell and the wavelength, or omit the lattice to index the pattern."
            )
    elif m["n_lines"] - m["n_indexed"] > MAX_UNINDEXED:
        raise CellRefused(
            f"The indexed cell ({_abc(cell)}) leaves {m['n_lines'] - m['n_indexed']} of {m['n_lines']} lines "
            f"unindexed (at most {MAX_UNINDEXED} allowed)."
        )
    if m["m20"] < MIN_M20 and not (cell.source == "given" and m.get("input_kind") == "vector"):
        raise CellRefused(
            f"The {cell.source} cell ({_abc(cell)}) has de Wolff M20 = {m['m20']:.1f} < {MIN_M20:g}: "
            "its fit to the pattern is not trustworthy."
        )


def check_volume(cell: SolveCell, composition: Composition | None) -> dict[str, Any]:
    """Refuse a cell whose volume per atom is implausible for any ``Z`` in 1..MAX_Z.

    Returns
    -------
    dict
        ``z`` (the formula units giving the volume per atom closest to 18 Å³, the median of
        the Materials Project sample) and ``volume_per_atom``; empty without a formula.
    """
    volume = float(cell.lattice.volume)
    if composition is None or len(composition) == 0:
        lo, hi = volume / MAX_VOLUME_PER_ATOM, volume / MIN_VOLUME_PER_ATOM
        if hi < 1 or lo > MAX_ATOMS:
            raise CellRefused(
                f"The {cell.source} cell ({_abc(cell)}) has a volume of {volume:.4g} Å³, which holds no "
                f"plausible number of atoms (1–{MAX_ATOMS} at "
                f"{MIN_VOLUME_PER_ATOM:g}–{MAX_VOLUME_PER_ATOM:g} "
                "Å³ per atom). Check the wavelength and the cell."
            )
        return {}
    ok = plausible_z(volume, composition)
    if not ok:
        formula = composition.reduced_formula
        n_formula = atoms_per_formula_unit(composition)
        raise CellRefused(
            f"The {cell.source} cell ({_abc(cell)}, V = {volume:.4g} Å³) is implausible for {formula}: "
            f"with Z = 1–{MAX_Z} formula units it gives {volume / (MAX_Z * n_formula):.3g}–"
            f"{volume / n_formula:.3g} Å³ per atom, "
            f"outside {MIN_VOLUME_PER_ATOM:g}–{MAX_VOLUME_PER_ATOM:g} Å³. Check the wavelength and the cell."
        )
    z = likely_z(volume, composition)
    return {"z": z, "volume_per_atom": ok[z], "z_range": [min(ok), max(ok)]}
