"""Solver mechanics with an untrained tiny model: inputs, lattice, ranking, errors.

(The quality of the candidates is measured by the evaluation protocol, not here.)
"""

import numpy as np
import pytest
import torch
from pymatgen.analysis.diffraction.xrd import XRDCalculator
from pymatgen.core import Lattice, Structure
from pymatgen.io.common import VolumetricData

from pymatgen_crystalnet import CrystalNetSolver
from pymatgen_crystalnet.featurize.xrd_vector import bin_index
from pymatgen_crystalnet.io.patterns import PowderProfile
from pymatgen_crystalnet.model.config import CrystalNetConfig
from pymatgen_crystalnet.model.crystalnet import CrystalNet
from pymatgen_crystalnet.model.weights import save_model
from pymatgen_crystalnet.physics.agreement import simulate_profile
from pymatgen_crystalnet.physics.powder import xrd_pattern
from pymatgen_crystalnet.physics.units import MO_KA, convert_two_theta

TINY = {
    "latent_dim": 8,
    "xrd_stem_channels": 4,
    "xrd_growth_rate": 4,
    "xrd_layers_per_block": 1,
    "xrd_blocks": 1,
    "xrd_transition_channels": 4,
    "composition_layers": 1,
    "composition_hidden": 8,
    "fusion_layers": 1,
    "fusion_hidden": 16,
    "n_frequencies": 8,
    "embed_dim": 8,
    "regressor_blocks": 1,
    "regressor_layers_per_block": 1,
    "regressor_hidden": 8,
}


@pytest.fixture(scope="module")
def solver(tmp_path_factory):
    torch.manual_seed(0)
    model = CrystalNet(CrystalNetConfig(**TINY))
    folder = tmp_path_factory.mktemp("weights")
    save_model(model, folder, metadata={"cell": "primitive", "b_factor": 1.0})
    solver = CrystalNetSolver.from_checkpoint(folder, device="cpu")
    solver.structures = False  # the structure step is tested in test_solver_result.py
    return solver


def test_solve_sticks_indexes_cubic_and_ranks(solver, nacl):
    result = solver.solve(xrd_pattern(nacl), "NaCl", wavelength=MO_KA, n_candidates=4, grid=12, seed=3)
    assert len(result) == 4
    assert result.lattice_source == "indexed"
    assert result.info["cell"]["centring"] == "F" and result.info["cell"]["m20"] > 10
    assert result.lattice.abc == pytest.approx((5.64 / np.sqrt(2),) * 3, rel=1e-3)
    cosines = [c.agreement["cosine"] for c in result]
    assert cosines == sorted(cosines, reverse=True)
    assert [c.rank for c in result] == [0, 1, 2, 3]
    assert sorted(c.sample for c in result) == [0, 1, 2, 3]
    best = result[0]
    assert isinstance(best.density, VolumetricData)
    assert best.density.data["total"].shape == (12, 12, 12)
    np.testing.assert_allclose(best.density.data["total"] / result.lattice.volume, best.grid, rtol=1e-6)
    assert result.composition_mode == "full"
    # same seed, same candidates
    again = solver.solve(xrd_pattern(nacl), "NaCl", wavelength=MO_KA, n_candidates=4, grid=12, seed=3)
    np.testing.assert_allclose(again[0].grid, best.grid)


def test_composition_modes_inferred(solver, nacl):
    pattern = xrd_pattern(nacl)
    kw = {"wavelength": MO_KA, "n_candidates": 1, "grid": 8}
    assert solver.solve(pattern, ["Na", "Cl"], **kw).composition_mode == "no_ratios"
    assert solver.solve(pattern, "Na Cl", **kw).composition_mode == "no_ratios"
    assert solver.solve(pattern, None, **kw).composition_mode == "none"


def test_profile_input_at_cu_and_given_lattice(solver, nacl):
    sticks = XRDCalculator("CuKa1").get_pattern(nacl, two_theta_range=(10, 120))
    grid = np.arange(10, 120, 0.02)
    intensity = simulate_profile(sticks.x, sticks.y, grid, fwhm=0.1) + 5.0
    profile = PowderProfile(grid, intensity, 1.54056)
    result = solver.solve(profile, "NaCl", n_candidates=2, grid=8)
    assert result.info["cell"]["incoming_abc"] == pytest.approx([5.64] * 3, rel=1e-3)
    assert result.info["input_kind"] == "profile"
    # the covered part of the Mo axis: Cu 10°–120° maps onto Mo 4.61°–47.10°
    lo, hi = convert_two_theta([10.0, 120.0], 1.54056, MO_KA)
    assert hi == pytest.approx(47.10, abs=0.01)
    assert np.nonzero(result.covered)[0][[0, -1]].tolist() == [bin_index(lo), bin_index(hi)]
    given = solver.solve(profile, "NaCl", lattice=Lattice.cubic(5.64), n_candidates=1, grid=8)
    assert given.lattice_source == "given"
    assert solver.solve(profile, "NaCl", lattice=5.64, n_candidates=1, grid=8).info["cell"]["centring"] == "F"


def test_non_cubic_patterns_are_indexed(solver):
    hexagonal = Structure(
        Lattice.hexagonal(3.2, 5.2), ["Mg", "Mg"], [[1 / 3, 2 / 3, 0.25], [2 / 3, 1 / 3, 0.75]]
    )
    result = solver.solve(xrd_pattern(hexagonal), "Mg", wavelength=MO_KA, n_candidates=1, grid=8)
    assert result.lattice_source == "indexed" and result.info["cell"]["crystal_system"] == "hexagonal"
    assert result.lattice.abc == pytest.approx((3.2, 3.2, 5.2), rel=1e-3)
    given = solver.solve(xrd_pattern(hexagonal), "Mg", wavelength=MO_KA, lattice=hexagonal.lattice,
                         n_candidates=1, grid=8)  # fmt: skip
    assert len(given) == 1 and given.lattice_source == "given"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"pattern": np.zeros(1024)}, "not all zero"),
        ({"pattern": np.full(1024, np.nan)}, "finite"),
        ({"pattern": "no/such/file.xy"}, "does not exist"),
        ({"pattern": {"x": 1}}, "Unsupported pattern"),
        ({"composition": "Xx2"}, "not a chemical element"),
        ({"n_candidates": 0}, "n_candidates"),
        ({"lattice": np.eye(2)}, "lattice must be"),
    ],
)
def test_bad_inputs(solver, nacl, kwargs, match):
    args = {"pattern": xrd_pattern(nacl), "composition": "NaCl", "n_candidates": 1, "grid": 8}
    args["wavelength"] = MO_KA
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        solver.solve(args.pop("pattern"), args.pop("composition"), **args)


def test_batch_api(solver, nacl):
    kw = {"wavelength": MO_KA, "n_candidates": 1, "grid": 8}
    results = solver.solve_many([xrd_pattern(nacl)] * 2, ["NaCl", "NaCl"], **kw)
    assert len(results) == 2


def test_device_auto_and_absent_devices():
    model = CrystalNet(CrystalNetConfig(**TINY))
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    for request in ("auto", None, "AUTO"):
        assert CrystalNetSolver(model, device=request).device.type == expected
    with pytest.raises(ValueError, match="Unknown device 'gpu-please'"):
        CrystalNetSolver(model, device="gpu-please")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_cuda_is_a_clear_error(tmp_path):
    model = CrystalNet(CrystalNetConfig(**TINY))
    with pytest.raises(ValueError, match="CUDA is not available"):
        CrystalNetSolver(model, device="cuda")
    folder = save_model(model, tmp_path / "w")
    with pytest.raises(ValueError, match="CUDA is not available"):
        CrystalNetSolver.from_checkpoint(folder, device="cuda:0")
