"""Higher-symmetry descriptions of a cell found without symmetry (metric symmetry).

A cell from the zone search (:mod:`pymatgen_crystalnet.indexing.zone_search`) is primitive
and triclinic in form; its lattice may have a higher symmetry within the errors of the
refined parameters. spglib (through pymatgen) finds the Bravais lattice of a one-atom
structure on that lattice at a given length and angle tolerance; the conventional cell is
then written in the setting of the system's quadratic form (monoclinic with b unique,
trigonal R in hexagonal axes) so that it can be refined with that form.
"""

from __future__ import annotations

import logging

import numpy as np
from numpy.typing import NDArray
from pymatgen.core import Lattice, Structure
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from pymatgen_crystalnet.indexing.evaluate import CENTRING_VECTORS
from pymatgen_crystalnet.indexing.forms import form_parameters

__all__ = ["TOLERANCES", "higher_symmetry_settings"]

logger = logging.getLogger(__name__)

#: (length tolerance as a fraction of the longest edge, angle tolerance in degrees), tried in turn.
TOLERANCES: tuple[tuple[float, float], ...] = ((1e-3, 0.15), (4e-3, 0.6))

_FORM_OF_SYSTEM = {
    "cubic": "cubic",
    "tetragonal": "tetragonal",
    "hexagonal": "hexagonal",
    "trigonal": "hexagonal",
    "orthorhombic": "orthorhombic",
    "monoclinic": "monoclinic",
}


def _b_unique(structure: Structure) -> Structure:
    """A monoclinic cell with its unique axis moved to b by a cyclic permutation of the axes."""
    dev = np.abs(np.array(structure.lattice.angles) - 90.0)
    unique = int(np.argmax(dev))  # the angle that is not 90° sits opposite the unique axis
    perm = {0: [2, 0, 1], 1: [0, 1, 2], 2: [1, 2, 0]}[unique]  # a unique → (c, a, b), c → (b, c, a)
    lattice = Lattice(structure.lattice.matrix[perm])
    return Structure(lattice, structure.species, structure.frac_coords[:, perm])


def _centring(structure: Structure) -> str:
    """The centring letter whose vectors are the lattice points inside a one-atom cell."""
    frac = np.mod(structure.frac_coords - structure.frac_coords[0], 1.0)
    frac = np.where(frac > 1 - 1e-3, 0.0, frac)
    points = {tuple(np.round(f, 3)) for f in frac if np.any(f > 1e-3)}
    for letter, vectors in CENTRING_VECTORS.items():
        if {tuple(np.round(v, 3)) for v in vectors} == points:
            return letter
    return "P"


def higher_symmetry_settings(
    lattice: Lattice, tolerances: tuple[tuple[float, float], ...] = TOLERANCES
) -> list[tuple[str, NDArray[np.float64], str]]:
    """Lattice systems above triclinic that ``lattice`` has within the tolerances.

    Returns ``(form system, p0, centring)`` triples — the name of the quadratic form
    (:data:`~pymatgen_crystalnet.indexing.forms.FORMS`), starting parameters for its
    refinement and the centring of that conventional cell — most symmetric first, one per
    system.
    """
    out: dict[str, tuple[NDArray[np.float64], str]] = {}
    dummy = Structure(lattice, ["H"], [[0.0, 0.0, 0.0]])
    for frac, angle in tolerances:
        try:
            sga = SpacegroupAnalyzer(dummy, symprec=frac * max(lattice.abc), angle_tolerance=angle)
            system = sga.get_crystal_system()
            if system == "triclinic" or _FORM_OF_SYSTEM[system] in out:
                continue
            conv = sga.get_conventional_standard_structure()
        except ValueError as exc:  # pymatgen: symmetry undetermined for this tolerance
            logger.debug("Symmetry search failed at tolerance %s: %s", (frac, angle), exc)
            continue
        form = _FORM_OF_SYSTEM[system]
        if form == "monoclinic":
            conv = _b_unique(conv)
        gstar = conv.lattice.reciprocal_lattice_crystallographic.metric_tensor
        out[form] = (form_parameters(form, gstar), _centring(conv))
    order = ["cubic", "hexagonal", "tetragonal", "orthorhombic", "monoclinic"]
    return [(s, *out[s]) for s in order if s in out]
