"""index_pattern: exact recovery on known structures, tolerance of impurities and zero shift."""

from __future__ import annotations

import numpy as np
import pytest

from indexing_sticks import aragonite, baddeleyite, magnesium, noisy, rutile, sticks
from lit_crystals import calcite, corundum, cscl, nacl, si
from pymatgen_crystalnet.indexing import IndexingSolution, index_pattern, same_lattice

STRUCTURES = {
    "NaCl": (nacl(), "cF"),
    "Si": (si(), "cF"),
    "CsCl": (cscl(), "cP"),  # not the tetragonal a/√2, a/√2, a cell that indexes the same lines
    "rutile": (rutile(), "tP"),
    "Mg": (magnesium(), "hP"),
    "corundum": (corundum(), "hR"),
    "calcite": (calcite(), "hR"),
}


@pytest.mark.parametrize("name", list(STRUCTURES))
def test_recovers_cell_of_higher_symmetry(name: str) -> None:
    structure, bravais = STRUCTURES[name]
    tt = noisy(sticks(structure), seed=len(name))
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
    structure = aragonite()
    tt = noisy(sticks(structure), seed=3, zero=-0.02)
    best = index_pattern(tt, "CuKa", systems=("orthorhombic",))[0]
    assert best.crystal_system == "orthorhombic"
    assert same_lattice(best.lattice, structure.lattice, ltol=1e-3, atol=0.1)
    assert best.n_unindexed == 0


def test_monoclinic_baddeleyite() -> None:
    structure = baddeleyite()
    tt = noisy(sticks(structure, 22), seed=4, zero=0.01, sigma=0.005)
    best = index_pattern(tt, "CuKa", systems=("monoclinic",))[0]
    assert best.bravais == "mP"
    assert 90 < best.parameters[4] < 100
    assert same_lattice(best.lattice, structure.lattice, ltol=1e-3, atol=0.1)


def test_impurity_line_is_tolerated() -> None:
    structure, _ = STRUCTURES["rutile"]
    tt = noisy(sticks(structure, 20), seed=5)
    tt = np.sort(np.append(tt, 31.70))  # a line no rutile reflection explains
    best = index_pattern(tt, "CuKa")[0]
    assert best.bravais == "tP"
    assert same_lattice(best.lattice, structure.lattice, ltol=1e-3, atol=0.1)
    assert best.n_unindexed == 1
    assert best.two_theta[best.unindexed[0]] == pytest.approx(31.70)


def test_zero_shift_is_refined() -> None:
    structure, _ = STRUCTURES["NaCl"]
    tt = sticks(structure) - 0.05
    best = index_pattern(tt, "CuKa")[0]
    assert best.zero_shift == pytest.approx(-0.05, abs=1e-3)
    assert best.parameters[0] == pytest.approx(5.6402, abs=2e-4)


def test_too_few_peaks_refused() -> None:
    with pytest.raises(ValueError, match="at least 6 distinct peak positions"):
        index_pattern([31.7, 45.4, 56.5, 66.2], "CuKa")


def test_bad_positions_refused() -> None:
    with pytest.raises(ValueError, match="within \\(0, 180\\)"):
        index_pattern([10, 20, 30, 40, 50, 190], "CuKa")


def test_solution_round_trips_through_dict() -> None:
    structure, _ = STRUCTURES["NaCl"]
    best = index_pattern(sticks(structure), "CuKa")[0]
    again = IndexingSolution.from_dict(best.as_dict())
    assert again.bravais == best.bravais
    assert np.allclose(again.lattice.matrix, best.lattice.matrix)
    assert np.array_equal(again.hkl, best.hkl)


@pytest.mark.parametrize(
    ("name", "bravais", "a"),
    [("gw5052Mg2Sn_100K_LTsup23", "cF", 6.7417), ("wn6225Isup2", "hP", 5.1009)],
)
def test_measured_profiles_with_two_impurity_lines(shared_data, name, bravais, a) -> None:
    """Two impurity lines: a lower-symmetry sub-cell found by the zone search leaves them out
    too, but must not end the search before the true cell's dichotomy allowing them has run."""
    from pymatgen_crystalnet.indexing import peaks_from_profile
    from pymatgen_crystalnet.io.patterns import read_profile

    path = shared_data / "experimental" / "iucr_rietveld" / f"{name}.rtv.combined.cif"
    peaks = peaks_from_profile(read_profile(path), max_lines=25)
    best = index_pattern(peaks, peaks.wavelength)[0]
    assert best.bravais == bravais
    assert best.parameters[0] == pytest.approx(a, rel=1e-3)
    assert best.n_unindexed == 2
