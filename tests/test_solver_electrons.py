from dataclasses import dataclass

import numpy as np
import pytest
from pymatgen.core import Composition, Lattice, Structure

from pymatgen_crystalnet.physics.cells import grid_electrons
from pymatgen_crystalnet.solver.electrons import normalise_candidates, structure_electrons


@dataclass
class Cand:
    grid: np.ndarray
    lattice: Lattice
    cell: int = 0
    electrons: dict | None = None


@pytest.fixture()
def nacl():
    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])


def test_structure_electrons_scale_with_the_cell(nacl):
    assert structure_electrons(nacl, nacl.volume) == pytest.approx(4 * 28)
    prim = nacl.get_primitive_structure()
    assert structure_electrons(nacl, prim.volume) == pytest.approx(28)


def test_a_solved_structure_fixes_the_content_of_every_candidate_on_its_cell(nacl):
    prim = nacl.get_primitive_structure().lattice
    rng = np.random.default_rng(0)
    cands = [Cand(rng.random((8, 8, 8)).astype(np.float32), prim) for _ in range(3)]
    other = Cand(rng.random((8, 8, 8)).astype(np.float32), prim, cell=1)
    before = grid_electrons(other.grid, prim.volume)
    normalise_candidates([*cands, other], best_structures={0: nacl}, composition=Composition("NaCl"))
    for c in cands:
        assert grid_electrons(c.grid, prim.volume) == pytest.approx(28, rel=1e-5)
        assert c.electrons["source"] == "structure" and c.electrons["expected"] == pytest.approx(28)
    # a cell without a structure and without z: left as predicted, mismatch shown
    assert grid_electrons(other.grid, prim.volume) == pytest.approx(before)
    assert other.electrons["expected"] is None
    assert other.electrons["implied_z"] == pytest.approx(before / 28)


def test_a_given_z_fixes_the_content(nacl):
    prim = nacl.get_primitive_structure().lattice
    cand = Cand(np.full((6, 6, 6), 0.1, np.float32), prim)
    normalise_candidates(
        [cand], best_structures={}, composition=Composition("NaCl"), z=4, conventional={0: nacl.lattice}
    )
    assert cand.electrons["source"] == "given z"
    assert grid_electrons(cand.grid, prim.volume) == pytest.approx(28, rel=1e-5)
