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
    # a cell without a structure and without z: the formula and the cell's volume fix it (Z = 1 here)
    assert other.electrons["source"] == "formula and volume"
    assert grid_electrons(other.grid, prim.volume) == pytest.approx(28, rel=1e-5)
    assert other.electrons["predicted"] == pytest.approx(before)
    assert other.electrons["implied_z"] == pytest.approx(before / 28)


def test_the_cell_volume_sets_z_and_without_a_formula_the_density_stays_as_predicted(nacl):
    from pymatgen_crystalnet.physics.formula_units import estimated_z

    conv = nacl.lattice  # the conventional cell: 4 NaCl (3.5 by volume alone; 4 per its 4 lattice points)
    assert estimated_z(conv.volume, "NaCl", lattice_points=4) == 4
    assert estimated_z(conv.volume / 4, "NaCl") == 1 and estimated_z(2 * conv.volume / 4, "Na2Cl2") == 2
    assert estimated_z(1.0, "NaCl") == 1  # never below one formula unit
    double = Lattice.cubic(conv.a * 2 ** (1 / 3) / 4 ** (1 / 3))  # two primitive cells' volume
    cand = Cand(np.full((6, 6, 6), 0.05, np.float32), double)
    normalise_candidates([cand], best_structures={}, composition=Composition("NaCl"))
    assert cand.electrons["source"] == "formula and volume"
    assert grid_electrons(cand.grid, double.volume) == pytest.approx(2 * 28, rel=1e-5)
    bare = Cand(np.full((6, 6, 6), 0.05, np.float32), conv)
    normalise_candidates([bare], best_structures={}, composition=None)
    assert bare.electrons["source"] == "unknown" and bare.electrons["expected"] is None
    assert grid_electrons(bare.grid, conv.volume) == pytest.approx(0.05 * conv.volume, rel=1e-5)
    assert "implied_z" not in bare.electrons


def test_a_given_z_fixes_the_content(nacl):
    prim = nacl.get_primitive_structure().lattice
    cand = Cand(np.full((6, 6, 6), 0.1, np.float32), prim)
    normalise_candidates(
        [cand], best_structures={}, composition=Composition("NaCl"), z=4, conventional={0: nacl.lattice}
    )
    assert cand.electrons["source"] == "given z"
    assert grid_electrons(cand.grid, prim.volume) == pytest.approx(28, rel=1e-5)
