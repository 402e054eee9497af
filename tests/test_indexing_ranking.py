"""Ranking of indexing solutions: derivative lattices, implausible translations."""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Lattice

from indexing_sticks import noisy, sticks
from lit_crystals import si, srtio3
from pymatgen_crystalnet.indexing import index_pattern
from pymatgen_crystalnet.indexing.ranking import MIN_TRANSLATION, derivative_lattices, hermite_forms


def testhermite_forms_count_the_sublattices() -> None:
    # sub-lattices of index n of a 3-D lattice: 1, 7, 13, 35 for n = 1..4
    assert [sum(1 for _ in hermite_forms(n)) for n in (1, 2, 3, 4)] == [1, 7, 13, 35]
    assert all(round(abs(np.linalg.det(h))) == 4 for h in hermite_forms(4))


def test_derivative_lattices() -> None:
    cubic = Lattice.cubic(4.0)
    # the tetragonal a/√2, a/√2, a lattice contains the cubic one with index 2, in any order
    assert derivative_lattices(cubic, Lattice.tetragonal(4 / 2**0.5, 4.0)) == 2
    assert derivative_lattices(Lattice.tetragonal(4 / 2**0.5, 4.0), cubic) == 2
    # the cP lattice of edge a is a sub-lattice of index 4 of the F-centred lattice of edge a
    fcc = Lattice(np.array([[0, 2, 2], [2, 0, 2], [2, 2, 0]], dtype=float))
    assert derivative_lattices(fcc, cubic) == 4
    # commensurate volumes are not enough
    assert derivative_lattices(cubic, Lattice.tetragonal(4.0, 8.0 * 1.01)) is None
    assert derivative_lattices(cubic, Lattice.orthorhombic(2.0, 5.0, 12.8)) is None


def test_cubic_pattern_is_not_given_its_tetragonal_derivative() -> None:
    """Every line of a cP pattern is indexed by tP a/√2, a/√2, a too, at a higher M20 (its free
    c/a fits the noise); the cubic cell must come first."""
    structure = srtio3()
    for seed in (0, 5, 7):  # noise that makes the tetragonal cell's M20 the higher one
        tt = noisy(sticks(structure, 15), seed=seed, zero=-0.02, sigma=0.015)
        sols = index_pattern(tt, "CuKa")
        assert sols[0].bravais == "cP"
        assert sols[0].parameters[0] == pytest.approx(3.905, abs=2e-3)
        tetragonal = [s for s in sols if s.bravais == "tP" and s.n_indexed == sols[0].n_indexed]
        assert tetragonal and tetragonal[0].m20 > sols[0].m20


def test_no_cell_with_a_translation_below_the_limit() -> None:
    # without the limit, a tP cell with a 1.92 Å edge indexes these 12 lines of Si as well
    tt = noisy(sticks(si(), 12), seed=2)
    sols = index_pattern(tt, "CuKa")
    assert sols[0].bravais == "cF"
    assert MIN_TRANSLATION == 2.0
    for sol in sols:
        assert min(sol.primitive_lattice.get_niggli_reduced_lattice().abc) >= 2.0
