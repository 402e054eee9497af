"""Space-group hypotheses from systematic absences, and extinction symbols from the operations."""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Structure

from lit_crystals import ALL
from pymatgen_crystalnet.physics.cells import canonical_cell
from pymatgen_crystalnet.physics.powder import xrd_pattern
from pymatgen_crystalnet.structure.candidate_pool import StructureCandidate
from pymatgen_crystalnet.structure.extinction import absent, extinction_symbol, hall_settings, setting_ops
from pymatgen_crystalnet.structure.spacegroups import (
    reflections_from_hkl,
    reflections_from_sticks,
    space_group_hypotheses,
)


def crystal(name: str) -> Structure:
    """The six test crystals of ``lit_crystals`` (literature cells and positions)."""
    return ALL[name]()


CASES = [
    ("NaCl", "Fm-3m", "F - - -"),
    ("CsCl", "Pm-3m", "P - - -"),
    ("Si", "Fd-3m", "F d - -"),
    ("SrTiO3", "Pm-3m", "P - - -"),
    ("corundum", "R-3c", "R - c"),
    ("calcite", "R-3c", "R - c"),
]


@pytest.mark.parametrize(("name", "symbol", "ext"), CASES)
def test_true_group_first_from_sticks_on_the_primitive_cell(name, symbol, ext):
    prim = canonical_cell(crystal(name))
    pattern = xrd_pattern(prim, conventional=False, two_theta_range=(0, 90))
    result = space_group_hypotheses(prim.lattice, reflections_from_sticks(pattern.x, pattern.y, "MoKa"))
    assert result.reason is None and result.unindexed == 0
    best = result.hypotheses[0]
    assert (best.symbol, best.extinction_symbol) == (symbol, ext)
    assert best.consistent and best.evidence["violations"] == 0
    # groups that forbid observed reflections are ranked after every consistent one, with evidence
    inconsistent = [h for h in result.hypotheses if not h.consistent]
    assert all(h.evidence["violations"] > 0 for h in inconsistent)
    if name not in ("corundum", "calcite"):  # every R group of the cell allows R-3c's reflections
        assert inconsistent and result.hypotheses.index(inconsistent[0]) >= len(result.consistent)
    # only groups with the given cell's translations: no primitive group for a centred cell
    centring = symbol[0]
    assert all(h.symbol[0] == centring for h in result.hypotheses) or centring == "P"


def test_indexed_hkl_on_the_conventional_cell():
    conv = crystal("Si")
    pattern = xrd_pattern(conv, conventional=False, two_theta_range=(0, 90))
    hkl = [fam[0]["hkl"] for fam in pattern.hkls]
    result = space_group_hypotheses(conv.lattice, reflections_from_hkl(hkl, pattern.y, conv.lattice))
    assert [h.symbol for h in result.hypotheses[:2]] == ["Fd-3m", "Fd-3"]
    fm3m = next(h for h in result.hypotheses if h.symbol == "Fm-3m")
    assert fm3m.evidence["unobserved_low"] > result.hypotheses[0].evidence["unobserved_low"]


def test_extinction_symbols_of_known_groups():
    known = {
        "P2_1/c": "P 1 2_1/c 1",
        "Pnma": "P n - a",
        "Ia-3d": "I a - d",
        "Pm-3n": "P - - n",
        "Pa-3": "P a - -",
        "P6_3/mmc": "P - - c",
        "P-31c": "P - - c",
        "P-3c1": "P - c -",
        "P4_2/n": "P 4_2/n - -",
        "I4_1/amd": "I a - d",
        "P2_13": "P 2_1 - -",
    }
    found = {}
    for ops in hall_settings():
        if ops.symbol in known and ops.symbol not in found and ops.choice in ("", "1", "b1", "b"):
            found[ops.symbol] = extinction_symbol(ops)
    assert found == known


def test_absences_from_operations():
    fm3m, fd3m = setting_ops(523), setting_ops(525)
    hkl = np.array([[1, 0, 0], [1, 1, 1], [2, 0, 0], [2, 2, 2], [4, 2, 0], [2, 0, 4]])
    assert absent(hkl, fm3m.rotations, fm3m.translations).tolist() == [
        True,
        False,
        False,
        False,
        False,
        False,
    ]
    # d-glide: 0kl with k + l = 4n only (200, 420 absent; 222 allowed by the group)
    assert absent(hkl, fd3m.rotations, fd3m.translations).tolist() == [True, False, True, False, True, True]


def test_no_consistent_group_and_unindexed_lines_give_reasons():
    conv = crystal("NaCl")
    pattern = xrd_pattern(conv, conventional=False, two_theta_range=(0, 60))
    refl = reflections_from_sticks(pattern.x, pattern.y, "MoKa")
    only_fd3m = space_group_hypotheses(conv.lattice, refl, space_groups=[227])
    assert not only_fd3m.consistent and "no cubic space group is consistent" in only_fd3m.reason
    stray = reflections_from_sticks(np.append(pattern.x, 13.37), np.append(pattern.y, 50), "MoKa")
    result = space_group_hypotheses(conv.lattice, stray)
    assert result.unindexed == 1 and "do not index" in result.reason
    assert (
        "unknown crystal system" in space_group_hypotheses(conv.lattice, refl, crystal_system="cubik").reason
    )


def test_decoded_symmetry_adds_support():
    prim = canonical_cell(crystal("CsCl"))
    pattern = xrd_pattern(prim, conventional=False, two_theta_range=(0, 60))
    refl = reflections_from_sticks(pattern.x, pattern.y, "MoKa")
    decoded = [StructureCandidate(prim, "P-43m", 215, "network-decode")] * 2
    result = space_group_hypotheses(prim.lattice, refl, decoded=decoded)
    assert result.hypotheses[0].symbol == "P-43m"  # same absences as Pm-3m, found twice in the densities
    assert "decoded" in result.hypotheses[0].evidence["sources"]
