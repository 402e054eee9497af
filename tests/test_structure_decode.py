"""Decoding densities into atomic models: peaks, Z, elements, symmetry, failures with reasons."""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.analysis.structure_matcher import StructureMatcher
from pymatgen.core import Lattice, Structure

from lit_crystals import ALL
from pymatgen_crystalnet.physics.cells import canonical_cell
from pymatgen_crystalnet.physics.iam import iam_density_grid
from pymatgen_crystalnet.structure.candidate_pool import (
    CandidatePool,
    StructureCandidate,
    min_distance_violation,
)
from pymatgen_crystalnet.structure.decode import decode_density
from pymatgen_crystalnet.structure.formula_units import candidate_z
from pymatgen_crystalnet.structure.peaks import find_peaks

MATCHER = StructureMatcher(ltol=0.3, stol=0.5, angle_tol=10)


def crystal(name: str) -> Structure:
    """The six test crystals of ``lit_crystals`` (literature cells and positions)."""
    return ALL[name]()


@pytest.fixture(scope="module")
def densities() -> dict[str, tuple[Structure, np.ndarray]]:
    out = {}
    for name in ("NaCl", "CsCl", "Si", "SrTiO3", "corundum", "calcite"):
        prim = canonical_cell(crystal(name))
        out[name] = (prim, iam_density_grid(prim, 36))
    return out


@pytest.mark.parametrize(
    ("name", "number"),
    [("NaCl", 225), ("CsCl", 221), ("Si", 227), ("SrTiO3", 221), ("corundum", 167), ("calcite", 167)],
)
def test_decoder_recovers_true_density(densities, name, number):
    prim, grid = densities[name]
    result = decode_density(
        grid, prim.lattice, prim.composition.reduced_formula, provenance={"sample": "truth"}
    )
    assert result.reason is None
    best = result.candidates[0]
    assert MATCHER.fit(best.structure, prim), [c.space_group for c in result.candidates]
    assert best.space_group_number == number
    assert best.structure.lattice == prim.lattice  # kept on the given cell
    z = len(prim) // prim.composition.reduced_composition.num_atoms
    assert best.provenance["z"] == z and best.provenance["sample"] == "truth"
    assert {"symprec", "selection", "assignment_rank", "wyckoffs"} <= set(best.provenance)
    assert best.source == "network-decode"


def test_peaks_subvoxel_position_and_electrons():
    # CsCl with the Cl atom off the grid points: the fit finds it to a small fraction of a voxel
    s = Structure(Lattice.cubic(4.12), ["Cs", "Cl"], [[0, 0, 0], [0.513, 0.488, 0.521]])
    peaks = find_peaks(iam_density_grid(s, 32), s.lattice)
    assert len(peaks) == 2
    d = peaks.frac_coords[1] - s[1].frac_coords
    assert np.linalg.norm((d - np.round(d)) @ s.lattice.matrix) < 0.02  # voxel = 0.13 Å
    assert peaks.total_electrons == pytest.approx(55 + 17, rel=1e-3)
    assert peaks.electrons[0] == pytest.approx(55, rel=0.1)
    assert peaks.electrons[1] == pytest.approx(17, rel=0.15)


def test_z_from_volume_and_electrons():
    vol = Lattice.cubic(5.64).volume  # conventional NaCl: 4 formula units, 112 electrons
    assert candidate_z("NaCl", vol, electrons=112.0).values == (4,)
    free = candidate_z("NaCl", vol).values
    assert 4 in free and all(5 <= vol / (2 * z) <= 80 for z in free)
    assert candidate_z("NaCl", vol, z=4).values == (4,)
    over = candidate_z("NaCl", vol, z=40)
    assert not over.values and "overfills" in over.reason
    assert "overfills" in candidate_z("Na20Cl20", 8.0).reason  # one NaCl needs 10 Å³


def test_decoder_bad_inputs_give_reasons(densities):
    prim, grid = densities["NaCl"]
    flat = decode_density(np.full((16, 16, 16), 0.1), prim.lattice, "NaCl")
    assert not flat.candidates and "no peak" in flat.reason
    too_few = decode_density(grid, prim.lattice, "NaCl", z=4)
    assert not too_few.candidates and "fewer than the 8 atoms" in too_few.reason
    overfill = decode_density(grid, prim.lattice, "NaCl", z=12)
    assert not overfill.candidates and "overfills" in overfill.reason
    nan = decode_density(np.full((8, 8, 8), np.nan), prim.lattice, "NaCl")
    assert not nan.candidates and "NaN" in nan.reason
    bad_formula = decode_density(grid, prim.lattice, "NaXx")
    assert not bad_formula.candidates and bad_formula.reason.startswith("bad input")


def test_alternatives_swap_elements_on_similar_peaks(densities):
    prim, grid = densities["SrTiO3"]
    result = decode_density(grid, prim.lattice, "SrTiO3")
    ranks = {c.provenance["assignment_rank"] for c in result.candidates}
    assert len(ranks) >= 2  # the swapped assignment is offered too, ranked after the right one
    assert result.candidates[0].provenance["assignment_rank"] == 0


def test_min_distance_and_pool_merge(densities):
    close = Structure(Lattice.cubic(4.0), ["Na", "Cl"], [[0, 0, 0], [0.05, 0, 0]])
    assert "apart" in min_distance_violation(close)
    assert min_distance_violation(crystal("NaCl")) is None
    prim, grid = densities["NaCl"]
    decoded = decode_density(grid, prim.lattice, "NaCl").candidates
    pool = CandidatePool()
    pool.extend(decoded)
    conv = StructureCandidate(crystal("NaCl"), "Fm-3m", 225, "search", {"trial": 0}, {"cosine": 0.99})
    assert not pool.add(conv)  # the same crystal: merged
    pool.add(StructureCandidate.failure("no peak", "network-decode", sample=1))
    assert len(pool) == 1 and len(pool.failures) == 1
    best = pool.ranked()[0]
    assert best.source == "search"  # it carries a cosine, so it ranks first and keeps the others
    assert any(m.get("source") == "network-decode" for m in best.merged_from)
