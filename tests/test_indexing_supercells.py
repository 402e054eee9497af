"""Derivative supercells of a cell that holds part of a formula unit (indexing with a formula)."""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Composition, Lattice, Structure

from indexing_sticks import noisy, sticks
from lit_crystals import nacl, si, srtio3
from pymatgen_crystalnet.indexing import index_pattern
from pymatgen_crystalnet.indexing.ranking import SUBCELL_FRACTION, formula_fraction
from pymatgen_crystalnet.indexing.supercells import (
    _candidate_settings,
    supercell_indices,
    supercell_solutions,
)
from pymatgen_crystalnet.physics.formula_units import fitted_volume


def co2tiv() -> Structure:
    """An L2_1 (Fm-3m) Heusler Co2TiV, a = 5.96 Å: Ti and V differ by one electron, so the
    superstructure lines (h, k, l all odd, |F| ∝ f_Ti − f_V) are far below 1 % and the primitive
    cubic cell a/2 indexes every simulated line."""
    return Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(5.96), ["Co", "Ti", "V"], [[0.25, 0.25, 0.25], [0, 0, 0], [0.5, 0.5, 0.5]]
    )


@pytest.fixture(scope="module")
def heusler_lines() -> np.ndarray:
    return noisy(sticks(co2tiv()), seed=3)


@pytest.fixture(scope="module")
def plain(heusler_lines: np.ndarray) -> list:
    return index_pattern(heusler_lines, "CuKa")


def test_fitted_volume_tells_half_a_formula_unit() -> None:
    comp = Composition("Co2TiV")
    sub, true = Lattice.cubic(2.98), Lattice.cubic(5.96)
    f_sub, f_true = formula_fraction(sub, comp), formula_fraction(true, comp) / 4  # F: 4 points per cell
    assert f_sub < SUBCELL_FRACTION <= f_true and f_true == pytest.approx(2 * f_sub)
    assert 0.9 < f_true < 1.2  # one formula unit per primitive cell, as fitted volumes expect
    # oxides are where the molar volumes of the elements fail (O2 solid is far less dense than
    # oxide ions): SrTiO3's cell holds about one formula unit by fitted volumes
    assert 0.8 < srtio3().volume / fitted_volume(Composition("SrTiO3")) < 1.2


def test_supercell_indices() -> None:
    assert supercell_indices(0.5) == [2, 3, 4, 8]
    assert supercell_indices(0.3) == [3, 4, 8]
    assert supercell_indices(0.2) == [4, 8]
    # under 0.7 / 4 of a formula unit: a misread pattern (wrong wavelength or formula), not a sub-cell
    assert supercell_indices(0.17) == [] and supercell_indices(0.1) == [] and supercell_indices(0.05) == []
    assert supercell_indices(SUBCELL_FRACTION) == [] and supercell_indices(1.0) == []


def test_candidate_supercells_of_each_lattice() -> None:
    def cells(lat: Lattice, rank: int) -> set[tuple[int, str, str]]:
        return {(n, s, c) for n, s, _, c in _candidate_settings(lat, [2, 3, 4, 8], rank)}

    assert cells(Lattice.cubic(3.0), 6) == {(2, "cubic", "F"), (4, "cubic", "I"), (8, "cubic", "P")}
    hexagonal = cells(Lattice.hexagonal(3.0, 5.0), 5)
    assert {(2, "hexagonal", "P"), (3, "hexagonal", "R")} <= hexagonal
    assert all(s == "hexagonal" for _, s, _ in hexagonal)  # never less symmetric than the cell
    assert (2, "tetragonal", "I") in cells(Lattice.tetragonal(3.0, 5.0), 4)


def test_heusler_sub_cell_without_formula(plain: list) -> None:
    top = plain[0]
    assert top.bravais == "cP" and top.lattice.a == pytest.approx(2.98, abs=2e-3)
    assert not any(s.bravais == "cF" and abs(s.lattice.a - 5.96) < 0.01 for s in plain[:3])


def test_heusler_true_cell_first_with_formula(heusler_lines: np.ndarray, plain: list) -> None:
    sols = index_pattern(heusler_lines, "CuKa", composition="Co2TiV")
    top = sols[0]
    assert top.bravais == "cF" and top.lattice.a == pytest.approx(5.96, abs=2e-3) and top.z == 4
    assert any("Supercell (index 2) of the cP cell" in n for n in top.notes)
    sub = next(s for s in sols if s.bravais == "cP" and abs(s.lattice.a - 2.98) < 2e-3)
    # the supercell indexes the same lines with its own, lower, figures of merit
    assert top.n_indexed == sub.n_indexed == top.n_lines
    assert top.m20 < sub.m20 and top.f_n_poss > sub.f_n_poss
    assert np.all(top.esds[:1]) and top.esds[0] < 1e-3
    # the sub-cell is kept, right after
    assert sols.index(sub) == 1


def test_supercells_of_a_cubic_sub_cell(plain: list) -> None:
    sub = plain[0]
    tol = np.full(sub.n_lines, 0.04)
    sups = supercell_solutions(sub, tol, Composition("Co2TiV"), max_zero_shift=0.06)
    got = {s.bravais: s for s in sups}
    assert set(got) == {"cF", "cI", "cP"}
    for s in sups:
        assert s.lattice.a == pytest.approx(5.96, abs=3e-3)
        assert s.n_indexed == sub.n_indexed  # refined and indexed, not assumed
    # fewer calculated lines for F than I than P: the ranking merit orders them so
    assert got["cF"].score > got["cI"].score > got["cP"].score
    # a cell that holds a formula unit gets none
    assert supercell_solutions(got["cF"], tol, Composition("Co2TiV"), max_zero_shift=0.06) == []


def test_wrong_formula_keeps_the_sub_cell(heusler_lines: np.ndarray) -> None:
    # twice the atoms per formula unit: supercells are preferred, the sub-cell is still listed
    sols = index_pattern(heusler_lines, "CuKa", composition="Co4Ti2V2O3")
    assert sols[0].bravais != "cP"
    assert any(s.bravais == "cP" and abs(s.lattice.a - 2.98) < 2e-3 for s in sols)
    # a formula whose unit fits the sub-cell leaves the order of cells alone
    small = index_pattern(heusler_lines, "CuKa", composition="CoTi")
    assert small[0].bravais == "cP" and small[0].lattice.a == pytest.approx(2.98, abs=2e-3)


@pytest.mark.parametrize(
    ("make", "formula", "seed"), [(nacl, "NaCl", 2), (si, "Si", 1), (srtio3, "SrTiO3", 4)]
)
def test_true_cells_unchanged(make, formula: str, seed: int) -> None:
    tt = noisy(sticks(make()), seed=seed)
    plain = index_pattern(tt, "CuKa")
    with_formula = index_pattern(tt, "CuKa", composition=formula)
    assert with_formula[0].summary().startswith(plain[0].summary())  # " Z=…" appended
    # the true cell holds a formula unit by fitted volumes: nothing to build from it
    assert formula_fraction(with_formula[0].primitive_lattice, Composition(formula)) >= SUBCELL_FRACTION
    assert not any("Supercell" in n for n in with_formula[0].notes)
