"""The solver and the evaluation feed a model that reads the cell: its cell, the input pattern read on it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pymatgen_crystalnet import CrystalNetSolver
from pymatgen_crystalnet.evaluation.batch import Batch
from pymatgen_crystalnet.evaluation.config import EvaluationConfig
from pymatgen_crystalnet.evaluation.protocol import evaluate
from pymatgen_crystalnet.evaluation.structures import StructureEvaluationConfig, _Densities
from pymatgen_crystalnet.featurize.reflections import CellInputSpec, read_reflections
from pymatgen_crystalnet.model.crystalnet import CrystalNet
from pymatgen_crystalnet.model.weights import save_model
from pymatgen_crystalnet.physics.powder import xrd_pattern
from pymatgen_crystalnet.physics.units import MO_KA
from pymatgen_crystalnet.solver.inputs import prepare_pattern
from pymatgen_crystalnet.solver.model_inputs import cell_model_inputs

TINY = {
    "latent_dim": 8,
    "xrd_layers_per_block": 1,
    "composition_layers": 1,
    "composition_hidden": 8,
    "fusion_layers": 2,
    "fusion_hidden": 16,
    "n_frequencies": 8,
    "embed_dim": 8,
    "regressor_blocks": 1,
    "regressor_layers_per_block": 1,
    "regressor_hidden": 8,
    "lattice_hidden": 8,
    "reflection_hidden": 8,
    "n_reflections": 24,
    "reflection_channels": 4,
    "nonnegative": False,
}


def tiny_model(seed: int = 0) -> CrystalNet:
    torch.manual_seed(seed)
    return CrystalNet.from_preset("small-reflections", **TINY).eval()


@pytest.fixture(scope="module")
def solver(tmp_path_factory):
    folder = tmp_path_factory.mktemp("weights") / "tiny-reflections"
    save_model(tiny_model(), folder, metadata={"cell": "primitive", "b_factor": 1.0})
    solver = CrystalNetSolver.from_checkpoint(folder, device="cpu")
    solver.structures = False
    return solver


def test_solver_feeds_the_cell_and_the_users_pattern(solver, nacl):
    sticks = xrd_pattern(nacl)
    result = solver.solve(sticks, "NaCl", wavelength=MO_KA, lattice=5.64, n_candidates=3, grid=8, seed=1)
    assert len(result) == 3 and result.lattice_source == "given"
    again = solver.solve(sticks, "NaCl", wavelength=MO_KA, lattice=5.64, n_candidates=3, grid=8, seed=1)
    np.testing.assert_allclose(again[0].grid, result[0].grid)
    indexed = solver.solve(sticks, "NaCl", wavelength=MO_KA, n_candidates=2, grid=8, seed=1)
    assert indexed.lattice_source == "indexed" and len(indexed) == 2 * len(indexed.info["cells"])
    # the amplitudes come from the input pattern, read on the cell the grid lives on
    prepared = prepare_pattern(sticks, MO_KA)
    cell = result.lattice.matrix
    given = cell_model_inputs(solver.model, prepared, cell, torch.device("cpu"))
    direct = read_reflections(prepared.vector, cell, k=24, covered=prepared.covered)
    np.testing.assert_array_equal(given["hkl"][0].numpy(), direct.hkl)
    np.testing.assert_allclose(given["amplitude"][0].numpy(), direct.amplitude)
    np.testing.assert_allclose(given["lattice"][0].numpy(), cell, rtol=1e-6)
    other = prepare_pattern(xrd_pattern(nacl.copy().scale_lattice(nacl.volume * 1.2)), MO_KA)
    swapped = cell_model_inputs(solver.model, other, cell, torch.device("cpu"))
    assert not np.allclose(swapped["amplitude"].numpy(), given["amplitude"].numpy())
    # a narrower measured range leaves the reflections outside it unread
    short = prepare_pattern(sticks, MO_KA, two_theta_range=(0, 15))
    partial = cell_model_inputs(solver.model, short, cell, torch.device("cpu"))["amplitude"][0].numpy()
    assert (partial == 0).sum() > (direct.amplitude == 0).sum()


def test_evaluation_reads_the_shown_pattern_on_the_own_cell(eval_data):
    cpu = torch.device("cpu")
    batch = Batch.load(eval_data, np.array([0, 1]), 8, cpu, partners=np.array([4, -1]), seed=0)
    spec = CellInputSpec(lattice=True, n_reflections=16)
    own = batch.cell_inputs(spec)
    control = batch.cell_inputs(spec, pattern_rows=batch.partner_rows, where=batch.paired)
    assert own["amplitude"].shape == (2, 16) and control["amplitude"].shape == (1, 16)
    expected_own = read_reflections(eval_data.xrd[1], eval_data.lattice[1], k=16)
    np.testing.assert_allclose(own["amplitude"][1].numpy(), expected_own.amplitude)
    expected_control = read_reflections(eval_data.xrd[4], eval_data.lattice[0], k=16)
    np.testing.assert_allclose(control["amplitude"][0].numpy(), expected_control.amplitude)
    np.testing.assert_allclose(control["lattice"][0].numpy(), eval_data.lattice[0], rtol=1e-6)
    assert batch.cell_inputs(CellInputSpec()) == {}


def test_evaluate_and_structure_densities_run_with_a_reflection_model(eval_data):
    torch.set_num_threads(1)
    model = tiny_model(1)
    config = EvaluationConfig(grid=8, samples=2, limit=3, ablations=False, examples=False)
    result = evaluate(model, eval_data, config, metadata={}, progress=False)
    scored = [row for row in result.crystals if "control" in row["scores"]]
    assert result.crystals and scored
    assert all(np.isfinite(row["scores"]["model"]["cc"]) for row in result.crystals)
    densities = _Densities(model, eval_data, StructureEvaluationConfig(k=2, grid=8), "cpu")
    own, _ = densities.predict(0, 0, "model")
    control, _ = densities.predict(4, 0, "control")
    assert len(own) == 2 and own[0].shape == (8, 8, 8)
    assert not np.allclose(own[0], control[0])
