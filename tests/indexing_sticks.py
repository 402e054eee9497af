"""Stick patterns for the indexing tests: literature crystals, their first lines, noise.

Rutile TiO2, hcp Mg, aragonite CaCO3 (Pnma setting) and baddeleyite ZrO2 have their
room-temperature literature cells and (rounded) coordinates; NaCl, Si, CsCl, corundum and
calcite come from ``lit_crystals``. The P2_1/c, C2/c (diopside-like cell) and P1 crystals
have invented contents: their cells and lines are all the tests need.
"""

from __future__ import annotations

import numpy as np
from pymatgen.analysis.diffraction.xrd import XRDCalculator
from pymatgen.core import Lattice, Structure

from pymatgen_crystalnet.indexing import peaks_from_pattern


def sticks(structure: Structure, n: int = 25) -> np.ndarray:
    """The first ``n`` Cu Kα stick positions (2θ, ≥ 1 % of the strongest, close lines merged)."""
    pattern = XRDCalculator("CuKa").get_pattern(structure, two_theta_range=(5, 140))
    return peaks_from_pattern(pattern, "CuKa", max_lines=n).two_theta


def noisy(tt: np.ndarray, seed: int, zero: float = 0.03, sigma: float = 0.01) -> np.ndarray:
    """``tt`` with N(0, σ) position errors and a zero shift."""
    rng = np.random.default_rng(seed)
    return np.sort(tt + rng.normal(0.0, sigma, tt.size) + zero)


def rutile() -> Structure:
    return Structure.from_spacegroup(
        "P4_2/mnm", Lattice.tetragonal(4.594, 2.959), ["Ti", "O"], [[0, 0, 0], [0.305, 0.305, 0]]
    )


def magnesium() -> Structure:
    return Structure.from_spacegroup(
        "P6_3/mmc", Lattice.hexagonal(3.209, 5.211), ["Mg"], [[1 / 3, 2 / 3, 0.25]]
    )


def aragonite() -> Structure:
    return Structure.from_spacegroup(
        "Pnma",
        Lattice.orthorhombic(5.74, 4.96, 7.97),
        ["Ca", "C", "O", "O"],
        [[0.76, 0.25, 0.415], [-0.09, 0.25, 0.76], [-0.095, 0.25, 0.92], [-0.087, 0.473, 0.681]],
    )


def baddeleyite() -> Structure:
    return Structure.from_spacegroup(
        "P2_1/c",
        Lattice.monoclinic(5.15, 5.21, 5.31, 99.2),
        ["Zr", "O", "O"],
        [[0.276, 0.04, 0.208], [0.07, 0.332, 0.345], [0.45, 0.757, 0.479]],
    )


def mono_p() -> Structure:
    return Structure.from_spacegroup(
        "P2_1/c",
        Lattice.monoclinic(7.12, 5.31, 9.24, 106.3),
        ["Zn", "O", "S"],
        [[0.13, 0.27, 0.08], [0.31, 0.62, 0.21], [0.42, 0.11, 0.37]],
    )


def mono_c() -> Structure:
    return Structure.from_spacegroup(
        "C2/c",
        Lattice.monoclinic(9.83, 8.91, 5.27, 105.7),
        ["Mg", "Si", "O"],
        [[0, 0.9, 0.25], [0.29, 0.09, 0.23], [0.12, 0.08, 0.14]],
    )


def triclinic() -> Structure:
    return Structure(
        Lattice.from_parameters(5.12, 6.34, 7.41, 97.3, 104.2, 88.6),
        ["Ca", "O", "O", "Si"],
        [[0.1, 0.2, 0.3], [0.4, 0.15, 0.7], [0.75, 0.6, 0.1], [0.3, 0.8, 0.55]],
    )
