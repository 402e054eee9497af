"""index_pattern with a formula: Z recorded, cells holding no whole formula unit ranked last."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from pymatgen.analysis.diffraction.xrd import XRDCalculator
from pymatgen.core import Lattice, Structure

from indexing_sticks import noisy, sticks
from lit_crystals import nacl, si
from pymatgen_crystalnet.indexing import index_pattern


@pytest.fixture(scope="module")
def heusler_even_lines() -> np.ndarray:
    """Cu2MnAl (Fm-3m, a = 5.95 Å) with its odd-index lines left out: every remaining line is
    indexed by the cP sub-cell a/2 (2.975 Å), as when the superstructure lines are too weak."""
    s = Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(5.95), ["Cu", "Mn", "Al"], [[0.25, 0.25, 0.25], [0, 0, 0], [0.5, 0.5, 0.5]]
    )
    pat = XRDCalculator("CuKa").get_pattern(s, two_theta_range=(10, 150))
    keep = [i for i, fam in enumerate(pat.hkls) if all(v % 2 == 0 for v in fam[0]["hkl"])]
    return np.asarray(pat.x)[keep][:20]


def test_z_recorded_for_known_crystals() -> None:
    best = index_pattern(noisy(sticks(si()), seed=1), "CuKa", composition="Si")[0]
    assert best.bravais == "cF" and best.z == 8  # 8 atoms in the conventional diamond cell
    best = index_pattern(noisy(sticks(nacl()), seed=2), "CuKa", composition="NaCl")[0]
    assert best.bravais == "cF" and best.z == 4
    assert index_pattern(noisy(sticks(nacl()), seed=2), "CuKa")[0].z is None  # no formula, no Z
    assert "Z=4" in best.summary() and best.as_dict()["z"] == 4


def test_cells_holding_no_formula_unit_go_last(heusler_even_lines: np.ndarray) -> None:
    tt = heusler_even_lines
    plain = index_pattern(tt, "CuKa")
    assert plain[0].bravais == "cP" and plain[0].lattice.a == pytest.approx(2.975, abs=1e-3)
    # the real formula: the a/2 sub-cell holds one Cu2MnAl at 6.6 Å³ per atom, which the
    # 4-120 Å³ bounds allow (z = 1), but only half a formula unit by fitted element volumes:
    # its derivative supercell cF a goes first (tests/test_indexing_supercells.py)
    with_formula = index_pattern(tt, "CuKa", composition="Cu2MnAl")
    assert with_formula[0].bravais == "cF" and with_formula[0].lattice.a == pytest.approx(5.95, abs=1e-3)
    assert with_formula[1].lattice.a == pytest.approx(2.975, abs=1e-3) and with_formula[1].z == 1
    # with the formula, the tP 2.10 × 2.10 × 2.975 Å cell (13.2 Å³, 3.3 Å³ per atom of Cu2MnAl)
    # goes after every cell that holds a plausible Z, and says why
    holds = [s.z is not None for s in with_formula]
    assert holds == sorted(holds, reverse=True) and not all(holds)
    tp = next(s for s in with_formula if s.bravais == "tP" and s.volume < 16)
    assert tp.z is None and any("plausible volume per atom" in n for n in tp.notes)
    assert with_formula.index(tp) > plain.index(next(s for s in plain if s.bravais == "tP" and s.volume < 16))


def test_formula_no_cell_can_hold(heusler_even_lines: np.ndarray, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="pymatgen_crystalnet.indexing.search"):
        sols = index_pattern(heusler_even_lines, "CuKa", composition="Cu200Mn100Al79")
    assert sols and all(s.z is None for s in sols)  # cells still returned, ranked by merit alone
    plain = index_pattern(heusler_even_lines, "CuKa")
    assert [s.summary() for s in sols] == [s.summary() for s in plain]
    assert all(any("plausible volume per atom" in n for n in s.notes) for s in sols)
    assert "No cell found holds a plausible number of" in caplog.text and "Cu200" in caplog.text


def test_unreadable_formula_refused() -> None:
    with pytest.raises(ValueError, match="formula"):
        index_pattern(sticks(si()), "CuKa", composition="Si(OH")
