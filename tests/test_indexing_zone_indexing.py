"""Zone indexing end to end: orthorhombic, monoclinic (P, C) and triclinic cells recovered
in seconds; triclinic cells reported only when asked for."""

from __future__ import annotations

import pytest
from pymatgen.core import Structure

from indexing_sticks import aragonite, mono_c, mono_p, noisy, sticks, triclinic
from pymatgen_crystalnet.indexing import index_pattern, same_lattice

LOW_CASES = [
    ("aragonite", aragonite(), "oP", ("orthorhombic",)),
    ("P2_1/c", mono_p(), "mP", ("monoclinic",)),
    ("C2/c", mono_c(), "mC", ("monoclinic",)),
    ("P1", triclinic(), "aP", ("monoclinic", "triclinic")),
]


def _check_recovered(best, structure: Structure, bravais: str) -> None:
    assert best.bravais == bravais
    assert same_lattice(best.lattice, structure.lattice, ltol=2e-3, atol=0.2)
    assert best.n_unindexed == 0
    assert best.m20 > 20
    assert abs(best.zero_shift - 0.03) < 0.02


@pytest.mark.parametrize(("name", "structure", "bravais", "systems"), LOW_CASES)
def test_low_symmetry_cells_are_recovered(name: str, structure: Structure, bravais: str, systems) -> None:
    """The orthorhombic dichotomy and the zone search, each on its own (seconds)."""
    tt = noisy(sticks(structure), seed=len(name))
    _check_recovered(index_pattern(tt, "CuKa", systems=systems)[0], structure, bravais)


@pytest.mark.slow
@pytest.mark.parametrize(("name", "structure", "bravais", "systems"), LOW_CASES)
def test_default_search_recovers_low_symmetry_cells(
    name: str, structure: Structure, bravais: str, systems
) -> None:
    """All systems searched in the default order (the higher ones first): 3–8 s each."""
    tt = noisy(sticks(structure), seed=len(name))
    _check_recovered(index_pattern(tt, "CuKa")[0], structure, bravais)


def test_triclinic_is_reported_only_when_asked_for() -> None:
    tt = noisy(sticks(triclinic()), seed=1)
    sols = index_pattern(tt, "CuKa", systems=("monoclinic",))
    assert all(s.crystal_system == "monoclinic" for s in sols)
    assert not any(same_lattice(s.lattice, triclinic().lattice, ltol=2e-3, atol=0.2) for s in sols)

