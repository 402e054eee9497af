"""index_pattern: exact recovery on known structures, tolerance of impurities and zero shift."""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.analysis.diffraction.xrd import XRDCalculator
from pymatgen.core import Lattice, Structure

from pymatgen_crystalnet.indexing import IndexingSolution, index_pattern, peaks_from_pattern, same_lattice


def _sticks(structure: Structure, n: int = 25) -> np.ndarray:
    pattern = XRDCalculator("CuKa").get_pattern(structure, two_theta_range=(5, 140))
    return peaks_from_pattern(pattern, "CuKa", max_lines=n).two_theta


def _noisy(tt: np.ndarray, seed: int, zero: float = 0.03, sigma: float = 0.01) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.sort(tt + rng.normal(0.0, sigma, tt.size) + zero)


STRUCTURES = {
    "NaCl": (
        Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5] * 3]),
        "cF",
    ),
    "Si": (Structure.from_spacegroup("Fd-3m", Lattice.cubic(5.431), ["Si"], [[0, 0, 0]]), "cF"),
    "rutile": (
        Structure.from_spacegroup(
            "P4_2/mnm", Lattice.tetragonal(4.594, 2.959), ["Ti", "O"], [[0, 0, 0], [0.305, 0.305, 0]]
        ),
        "tP",
    ),
    "Mg": (
        Structure.from_spacegroup(
            "P6_3/mmc", Lattice.hexagonal(3.209, 5.211), ["Mg"], [[1 / 3, 2 / 3, 0.25]]
        ),
        "hP",
    ),
    "corundum": (
        Structure.from_spacegroup(
            "R-3c", Lattice.hexagonal(4.759, 12.99), ["Al", "O"], [[0, 0, 0.352], [0.306, 0, 0.25]]
        ),
        "hR",
    ),
    "calcite": (
        Structure.from_spacegroup(
            "R-3c",
            Lattice.hexagonal(4.99, 17.06),
            ["Ca", "C", "O"],
            [[0, 0, 0], [0, 0, 0.25], [0.257, 0, 0.25]],
        ),
        "hR",
    ),
}


@pytest.mark.parametrize("name", list(STRUCTURES))
def test_recovers_cell_of_higher_symmetry(name: str) -> None:
    structure, bravais = STRUCTURES[name]
    tt = _noisy(_sticks(structure), seed=len(name))
    sols = index_pattern(tt, "CuKa")
    best = sols[0]
    assert isinstance(best, IndexingSolution)
    assert best.bravais == bravais
    assert same_lattice(best.lattice, structure.lattice, ltol=1e-3, atol=0.1)
    assert best.n_unindexed == 0
    assert best.m20 > 20
    assert abs(best.zero_shift - 0.03) < 0.02
    # e.s.d.s are small and positive for the free parameters
    assert 0 < best.esds[0] < 2e-3


def test_orthorhombic_aragonite() -> None:
    structure = Structure.from_spacegroup(
        "Pnma",
        Lattice.orthorhombic(5.74, 4.96, 7.97),
        ["Ca", "C", "O", "O"],
        [[0.76, 0.25, 0.415], [-0.09, 0.25, 0.76], [-0.095, 0.25, 0.92], [-0.087, 0.473, 0.681]],
    )
    tt = _noisy(_sticks(structure), seed=3, zero=-0.02)
    best = index_pattern(tt, "CuKa", systems=("orthorhombic",))[0]
    assert best.crystal_system == "orthorhombic"
    assert same_lattice(best.lattice, structure.lattice, ltol=1e-3, atol=0.1)
    assert best.n_unindexed == 0


def test_monoclinic_baddeleyite() -> None:
    structure = Structure.from_spacegroup(
        "P2_1/c",
        Lattice.monoclinic(5.15, 5.21, 5.31, 99.2),
        ["Zr", "O", "O"],
        [[0.276, 0.04, 0.208], [0.07, 0.332, 0.345], [0.45, 0.757, 0.479]],
    )
    tt = _noisy(_sticks(structure, 22), seed=4, zero=0.01, sigma=0.005)
    best = index_pattern(tt, "CuKa", systems=("monoclinic",))[0]
    assert best.bravais == "mP"
    assert 90 < best.parameters[4] < 100
    assert same_lattice(best.lattice, structure.lattice, ltol=1e-3, atol=0.1)


def test_impurity_line_is_tolerated() -> None:
    structure, _ = STRUCTURES["rutile"]
    tt = _noisy(_sticks(structure, 20), seed=5)
    tt = np.sort(np.append(tt, 31.70))  # a line no rutile reflection explains
    best = index_pattern(tt, "CuKa")[0]
    assert best.bravais == "tP"
    assert same_lattice(best.lattice, structure.lattice, ltol=1e-3, atol=0.1)
    assert best.n_unindexed == 1
    assert best.two_theta[best.unindexed[0]] == pytest.approx(31.70)


def test_zero_shift_is_refined() -> None:
    structure, _ = STRUCTURES["NaCl"]
    tt = _sticks(structure) - 0.05
    best = index_pattern(tt, "CuKa")[0]
    assert best.zero_shift == pytest.approx(-0.05, abs=1e-3)
    assert best.parameters[0] == pytest.approx(5.64, abs=2e-4)


def test_too_few_peaks_refused() -> None:
    with pytest.raises(ValueError, match="at least 6 distinct peak positions"):
        index_pattern([31.7, 45.4, 56.5, 66.2], "CuKa")


def test_bad_positions_refused() -> None:
    with pytest.raises(ValueError, match="within \\(0, 180\\)"):
        index_pattern([10, 20, 30, 40, 50, 190], "CuKa")


def test_solution_round_trips_through_dict() -> None:
    structure, _ = STRUCTURES["NaCl"]
    best = index_pattern(_sticks(structure), "CuKa")[0]
    again = IndexingSolution.from_dict(best.as_dict())
    assert again.bravais == best.bravais
    assert np.allclose(again.lattice.matrix, best.lattice.matrix)
    assert np.array_equal(again.hkl, best.hkl)
