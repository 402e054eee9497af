"""Formula units in a cell: which ``Z`` give a plausible volume per atom for a known formula.

A cell of volume ``V`` holding ``Z`` formula units of ``n`` atoms has ``V / (Z n)`` Å³ per
atom. ``Z`` is plausible from 1 to :data:`MAX_Z` (24) when that lies between
:data:`MIN_VOLUME_PER_ATOM` (4 Å³) and :data:`MAX_VOLUME_PER_ATOM` (120 Å³). In a sample of
1,500 Materials Project training crystals the volume per atom spans 5.8–102 Å³ (0.1–99.9 %:
6.9–83 Å³) and ``Z`` per primitive cell is ≤ 19 in 99.9 %; diamond (5.7 Å³) and caesium
(117 Å³) are the natural extremes. The most likely ``Z`` is the plausible one whose volume
per atom is closest to :data:`TYPICAL_VOLUME_PER_ATOM` (18 Å³, the sample's median).

The expected volume of a formula unit knows its elements: 0.83 × the sum of the elements'
molar volumes in their elemental solids (pymatgen's ``Element.molar_volume``; 35 Å³ per atom
where pymatgen has none). 0.83 is the median ratio of the true volume to that sum on 1,504
structures of ≤ 20 sites of the corpus; ranking Z by it puts the true Z first for 78 % of them
(a flat 17.5 Å³ per atom: 58 %). The structure layer orders its Z candidates by it.

A tighter estimate, :func:`fitted_volume`, adds fitted volumes per atom of each element in
crystals (:mod:`~pymatgen_crystalnet.physics.element_volumes`, fitted on the corpus outside its
test split): on the held-out crystals the true volume is 0.75–1.71 × of it (0.5–99 %; below
0.7 × for 0.14 %), where the molar-volume estimate spreads over 0.46–1.48 × (below 0.7 × for
32 %: oxides, nitrides, halides, whose anions are far denser than their elemental solids).
Indexing uses it to recognise a cell that holds only part of a formula unit, and
:func:`estimated_z` rounds a cell's volume over it to the formula units the cell holds (the true
``Z`` for 95 % of 1,500 training and 97 % of 211 validation crystals of the cubic + trigonal
export; :func:`likely_z`: 68 % / 70 %), so that a density can be given the electrons the formula
fixes (:func:`formula_electrons` × ``Z``).

Used by indexing (to rank cells with a formula), by the solver (to refuse a cell, and to give a
candidate the electrons its cell holds) and by the evaluation (``electrons="formula"``). The Z
figures are printed by ``benchmarks/electron_decoding.py``.
"""

from __future__ import annotations

from pymatgen.core import Composition, Element

from pymatgen_crystalnet.physics.element_volumes import ELEMENT_VOLUMES

__all__ = [
    "MAX_VOLUME_PER_ATOM",
    "MAX_Z",
    "MIN_VOLUME_PER_ATOM",
    "TYPICAL_VOLUME_PER_ATOM",
    "as_composition",
    "atoms_per_formula_unit",
    "estimated_z",
    "expected_volume",
    "fitted_volume",
    "formula_electrons",
    "likely_z",
    "plausible_z",
]

MAX_Z: int = 24
MIN_VOLUME_PER_ATOM: float = 4.0
MAX_VOLUME_PER_ATOM: float = 120.0
TYPICAL_VOLUME_PER_ATOM: float = 18.0
#: Median ratio of a crystal's volume to the sum of its elements' molar volumes.
MOLAR_VOLUME_RATIO: float = 0.83
#: Volume per atom (Å³) taken for an element without a molar volume in pymatgen.
UNKNOWN_ELEMENT_VOLUME: float = 35.0
#: Å³ per atom of cm³/mol.
_CM3_PER_MOL = 1e24 / 6.02214076e23


def as_composition(formula: str | Composition) -> Composition:
    """A pymatgen ``Composition`` from a formula string or a ``Composition``.

    Raises
    ------
    ValueError
        For a formula pymatgen cannot read, one without atoms, or one with a symbol that is
        not a chemical element.
    """
    if isinstance(formula, Composition):
        comp = formula
    else:
        try:
            comp = Composition(str(formula))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"Cannot read the formula {formula!r}: {exc}") from None
    if len(comp) == 0 or comp.num_atoms <= 0:
        raise ValueError(f"The formula {formula!r} holds no atoms.")
    unknown = [str(el) for el in comp.elements if not isinstance(el, Element)]
    if unknown:
        raise ValueError(f"The formula {formula!r} holds {', '.join(unknown)}, not chemical elements.")
    return comp


def expected_volume(formula: Composition) -> float:
    """Expected volume (Å³) of the given formula from its elements' molar volumes (see above)."""
    total = 0.0
    for el, n in formula.items():
        try:
            mv = Element(str(el)).molar_volume
        except (ValueError, AttributeError):
            mv = None
        per_atom = float(mv) * _CM3_PER_MOL if mv else UNKNOWN_ELEMENT_VOLUME
        total += n * per_atom
    return MOLAR_VOLUME_RATIO * total


def fitted_volume(formula: Composition) -> float:
    """Expected volume (Å³) of the formula from fitted volumes per atom of its elements.

    Elements without a fitted volume (met in fewer than 20 corpus crystals) take the molar-volume
    estimate of :func:`expected_volume`.
    """
    total = 0.0
    for el, n in formula.items():
        v = ELEMENT_VOLUMES.get(str(el))
        total += n * (v if v is not None else expected_volume(Composition({el: 1})))
    return total


def atoms_per_formula_unit(composition: str | Composition) -> float:
    """Atoms in one formula unit of the reduced formula (``Cu2MnAl``: 4)."""
    comp = as_composition(composition)
    return float(comp.get_reduced_composition_and_factor()[0].num_atoms)


def plausible_z(volume: float, composition: str | Composition) -> dict[int, float]:
    """Every ``Z`` in 1..MAX_Z at which a cell of ``volume`` Å³ has a plausible volume per atom.

    Returns
    -------
    dict
        ``{Z: volume per atom}``, empty when no ``Z`` fits.
    """
    n = atoms_per_formula_unit(composition)
    per_atom = {z: float(volume) / (z * n) for z in range(1, MAX_Z + 1)}
    return {z: v for z, v in per_atom.items() if MIN_VOLUME_PER_ATOM <= v <= MAX_VOLUME_PER_ATOM}


def likely_z(volume: float, composition: str | Composition) -> int | None:
    """The plausible ``Z`` whose volume per atom is closest to 18 Å³; None when none is plausible."""
    ok = plausible_z(volume, composition)
    if not ok:
        return None
    return min(ok, key=lambda z: abs(ok[z] - TYPICAL_VOLUME_PER_ATOM))


def estimated_z(volume: float, composition: str | Composition, lattice_points: int = 1) -> int:
    """Formula units in a cell of ``volume`` Å³: its volume over :func:`fitted_volume`, rounded (≥ 1).

    The rounding is done per lattice point: a centred cell of ``lattice_points`` points (cF: 4)
    holds a multiple of them. On a primitive cell (the network's cell) the true Z comes out for
    95–97 % of corpus crystals; on a conventional cell without ``lattice_points`` the rounding
    of a larger number is less safe (NaCl's conventional cell: 3.5 formula units by volume).
    """
    reduced = as_composition(composition).reduced_composition
    points = max(1, int(lattice_points))
    return points * max(1, round(float(volume) / (points * fitted_volume(reduced))))


def formula_electrons(composition: str | Composition) -> float:
    """Electrons in one formula unit of the reduced formula (Σ Z · amount; ``BaO``: 64)."""
    reduced = as_composition(composition).reduced_composition
    return float(sum(el.Z * amount for el, amount in reduced.items()))
