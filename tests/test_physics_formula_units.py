"""Plausible numbers of formula units for a cell volume and a formula."""

from __future__ import annotations

import pytest
from pymatgen.core import Composition

from pymatgen_crystalnet.physics.formula_units import (
    MAX_Z,
    as_composition,
    atoms_per_formula_unit,
    likely_z,
    plausible_z,
)


def test_plausible_z_bounds() -> None:
    # NaCl conventional cell, a = 5.64 Å: V = 179.4 Å³, 2 atoms per formula unit
    ok = plausible_z(179.4, "NaCl")
    assert min(ok) == 1 and max(ok) == 22  # 179.4 / (2 · 22) = 4.08 Å³; Z = 23 gives 3.9
    assert ok[4] == pytest.approx(179.4 / 8)
    assert likely_z(179.4 / 4, Composition("NaCl")) == 1  # primitive cell: 22.4 Å³ per atom
    # silicon's primitive cell (40.05 Å³) holds two atoms at 20 Å³ each
    assert likely_z(40.05, "Si") == 2


def test_reduced_formula_and_implausible_volumes() -> None:
    assert atoms_per_formula_unit("Cu4Mn2Al2") == 4
    assert plausible_z(2.0, "Fe") == {}  # below 4 Å³ per atom even for Z = 1
    assert likely_z(2.0, "Fe") is None
    assert sorted(plausible_z(2000.0, "Fe")) == list(range(17, MAX_Z + 1))  # 2000 / 17 = 117.6 Å³
    assert plausible_z(1e6, "Fe") == {}  # above 120 Å³ per atom even for Z = 24


@pytest.mark.parametrize("bad", ["Xq2O3", "", "12"])
def test_unreadable_formula_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="formula"):
        as_composition(bad)
