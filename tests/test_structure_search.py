"""Symmetry-constrained random search (pyxtal) on the given lattice, scored against the sticks."""

from __future__ import annotations

import pytest
from pymatgen.analysis.structure_matcher import StructureMatcher
from pymatgen.core import Lattice, Structure

from pymatgen_crystalnet.physics.cells import canonical_cell
from pymatgen_crystalnet.physics.powder import xrd_pattern
from pymatgen_crystalnet.structure.search import stick_target, symmetry_search, trial_sticks

MATCHER = StructureMatcher(ltol=0.3, stol=0.5, angle_tol=10)
CRYSTALS = {
    "NaCl": ("Fm-3m", 225, Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]),
    "CsCl": ("Pm-3m", 221, Lattice.cubic(4.12), ["Cs", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]),
    "SrTiO3": ("Pm-3m", 221, Lattice.cubic(3.905), ["Sr", "Ti", "O"], [[0, 0, 0], [0.5] * 3, [0.5, 0.5, 0]]),
}


def target_of(structure: Structure):
    pattern = xrd_pattern(structure, conventional=False, two_theta_range=(2, 50))
    return stick_target(pattern.x, pattern.y, "MoKa", (2, 50))


@pytest.mark.parametrize("name", list(CRYSTALS))
def test_search_with_the_right_group_finds_the_crystal(name):
    symbol, number, lattice, species, coords = CRYSTALS[name]
    truth = canonical_cell(Structure.from_spacegroup(symbol, lattice, species, coords))
    result = symmetry_search(
        truth.lattice, truth.composition.reduced_formula, target_of(truth), [number], z=1, n_trials=8, seed=0
    )
    assert result.candidates, [f.reason for f in result.failures]
    best = result.candidates[0]
    assert MATCHER.fit(best.structure, truth)
    assert best.figures_of_merit["cosine"] > 0.999
    assert best.structure.lattice == truth.lattice  # the given (primitive) cell
    assert best.source == "search" and best.provenance["space_group_hypothesis"] == number
    assert best.space_group_number == number


def test_search_ranks_a_wrong_arrangement_lower():
    # SrTiO3 in Pm-3m: Sr/Ti/O on the 1a/1b/3c/3d sites; wrong placements score lower
    symbol, number, lattice, species, coords = CRYSTALS["SrTiO3"]
    truth = Structure.from_spacegroup(symbol, lattice, species, coords)
    result = symmetry_search(truth.lattice, "SrTiO3", target_of(truth), [number], z=1, n_trials=12, keep=5)
    cosines = [c.figures_of_merit["cosine"] for c in result.candidates]
    assert cosines == sorted(cosines, reverse=True) and cosines[-1] < 0.99


def test_search_failures_give_reasons():
    lattice = Lattice.cubic(3.905)
    target = target_of(
        Structure(
            lattice,
            ["Sr", "Ti", "O", "O", "O"],
            [[0, 0, 0], [0.5] * 3, [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]],
        )
    )
    wrong = symmetry_search(lattice, "SrTiO3", target, [227], z=1, n_trials=3)
    assert not wrong.candidates and "227" in wrong.failures[0].reason
    overfill = symmetry_search(lattice, "SrTiO3", target, [221], z=None, n_trials=2)
    assert overfill.candidates  # Z=1 fits: 11.9 Å³/atom
    tiny = symmetry_search(Lattice.cubic(2.0), "SrTiO3", target, [221], n_trials=2)
    assert not tiny.candidates and "overfills" in tiny.failures[0].reason


def test_trial_sticks_shape_and_scale():
    lattice = Lattice.cubic(4.12)
    frac = [[[0, 0, 0], [0.5, 0.5, 0.5]], [[0, 0, 0], [0.5, 0.5, 0.0]]]
    tt, inten = trial_sticks(lattice, ["Cs", "Cl"], frac, 0.71073, (2, 40), 1.0)
    assert inten.shape == (2, tt.size) and tt.size > 5
    assert inten.max(axis=1) == pytest.approx([100, 100])
