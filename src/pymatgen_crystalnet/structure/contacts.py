"""The closest interatomic contact of a crystal, against a minimum from covalent radii.

A refinement that lets two atoms run into each other can still fit a stick pattern (two
half-weight atoms on one site scatter like one), so a refined crystal is accepted only if
every pair of atoms ``i, j`` (periodic images included) is at least

    d_min(i, j) = max(factor × (r_i + r_j), floor)

apart, with Cordero's covalent radii ``r`` (pymatgen's ``CovalentRadius`` table), ``factor``
0.5 and ``floor`` 0.5 Å by default. Real contacts are much longer: bonded neighbours sit at
about the sum of the covalent radii (Si–O 1.61 Å for a sum of 1.77 Å, C–O in carbonate 1.28 Å
for 1.42 Å, O–H 0.96 Å for 0.97 Å; even strong hydrogen bonds and metal–metal bonds stay
above ~0.8 of the sum), and non-bonded ones are longer still. Half the sum therefore never
refuses a real crystal and always refuses atoms that overlap; the 0.5 Å floor keeps a
sensible limit for pairs of very small atoms (H–H gives 0.31 Å from the radii alone).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pymatgen.core import Structure

__all__ = ["Contact", "closest_contact", "covalent_radius"]

#: default fraction of the sum of covalent radii
DEFAULT_FACTOR: float = 0.5
#: default absolute minimum distance (Å)
DEFAULT_FLOOR: float = 0.5
#: radius (Å) for an element missing from the covalent table
_FALLBACK_RADIUS = 1.5


def covalent_radius(symbol: str) -> float:
    """Cordero covalent radius (Å) of an element, 1.5 Å for the few the table lacks."""
    from pymatgen.analysis.molecule_structure_comparator import CovalentRadius

    return float(CovalentRadius.radius.get(symbol, _FALLBACK_RADIUS))


@dataclass(frozen=True)
class Contact:
    """The pair of sites closest to its minimum distance.

    Attributes
    ----------
    distance
        Their distance (Å).
    minimum
        The minimum allowed for that pair (Å).
    sites
        Their indices (equal for a site and its own periodic image).
    ok
        True when every pair is at least its minimum apart.
    min_distance
        The shortest distance between any two atoms (Å), whichever pair.
    """

    distance: float
    minimum: float
    sites: tuple[int, int]
    ok: bool
    min_distance: float


def closest_contact(
    structure: Structure, factor: float = DEFAULT_FACTOR, floor: float = DEFAULT_FLOOR
) -> Contact:
    """Check every pair of atoms (and each atom against its own images) for overlap.

    Raises
    ------
    ValueError
        For an empty structure or a negative factor/floor.
    """
    if len(structure) == 0:
        raise ValueError("The structure has no sites.")
    if not (factor >= 0 and floor >= 0):
        raise ValueError(f"factor and floor must be ≥ 0, got {factor} and {floor}.")
    radii = np.array([covalent_radius(site.specie.symbol) for site in structure])
    limits = np.maximum(factor * (radii[:, None] + radii[None, :]), floor)
    dist = np.array(structure.distance_matrix, dtype=np.float64)
    # a site against its own periodic images: the shortest lattice vector
    np.fill_diagonal(dist, _shortest_lattice_vector(structure))
    ratio = dist / limits
    i, j = np.unravel_index(int(np.argmin(ratio)), ratio.shape)
    return Contact(
        distance=float(dist[i, j]),
        minimum=float(limits[i, j]),
        sites=(int(min(i, j)), int(max(i, j))),
        ok=bool(ratio[i, j] >= 1.0),
        min_distance=float(dist.min()),
    )


def _shortest_lattice_vector(structure: Structure) -> float:
    """Length of the shortest lattice vector (Å): the shortest edge of the Niggli cell."""
    return float(min(structure.lattice.get_niggli_reduced_lattice().abc))
