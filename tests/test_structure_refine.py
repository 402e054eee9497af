"""Refinement against stick patterns: parametrisation, torch forward, gradients, recovery, refusals."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pymatgen.analysis.structure_matcher import StructureMatcher
from pymatgen.core import Lattice, Structure
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from lit_crystals import ALL, calcite, corundum, cscl
from pymatgen_crystalnet.physics.powder import xrd_pattern
from pymatgen_crystalnet.physics.powder_batch import batch_sticks
from pymatgen_crystalnet.structure.forward_torch import StickModel
from pymatgen_crystalnet.structure.refine import refine
from pymatgen_crystalnet.structure.stick_match import match_sticks
from pymatgen_crystalnet.structure.stick_problem import StickProblem
from pymatgen_crystalnet.structure.wyckoff_params import symmetry_parametrisation

B_TRUE = 0.3
FREE = {"NaCl": 0, "CsCl": 0, "Si": 0, "SrTiO3": 0, "corundum": 2, "calcite": 1}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _displace(structure, par, amount, rng):
    """Parameters moving each orbit's representative by ``amount`` Å in a random allowed direction."""
    p = np.zeros(par.n_free)
    for k, orbit in enumerate(par.orbits):
        cols = np.flatnonzero(par.param_orbit == k)
        if len(cols):
            v = rng.normal(size=len(cols))
            length = np.linalg.norm(par.basis[orbit[0]][:, cols] @ v @ structure.lattice.matrix)
            p[cols] = v * amount / length
    return p


def _rms(a, b):
    d = a.frac_coords - b.frac_coords
    d -= np.round(d)
    return float(np.sqrt(np.mean(np.sum((d @ a.lattice.matrix) ** 2, axis=1))))


@pytest.mark.parametrize("name", list(ALL))
def test_parametrisation_free_parameters_keep_symmetry(name):
    structure = ALL[name]()
    par = symmetry_parametrisation(structure)
    assert par.n_free == FREE[name]
    np.testing.assert_allclose(par.x0, structure.frac_coords, atol=1e-9)
    moved = Structure(
        structure.lattice,
        structure.species,
        par.coords(_displace(structure, par, 0.2, np.random.default_rng(0))),
    )
    number = SpacegroupAnalyzer(structure).get_space_group_number()
    assert SpacegroupAnalyzer(moved, symprec=1e-5).get_space_group_number() == number


def test_torch_forward_equals_numpy_path():
    structure = corundum()
    par = symmetry_parametrisation(structure)
    rng = np.random.default_rng(1)
    symmetric = np.stack([par.coords(_displace(structure, par, 0.1, rng)) for _ in range(3)])
    arbitrary = structure.frac_coords[None] + rng.normal(0, 0.02, (3, len(structure), 3))
    for coords, rotations in ((symmetric, par.rotations), (arbitrary, None), (symmetric, None)):
        tt, ref = batch_sticks(structure.lattice, structure.species, coords, "CuKa", (5, 150), 0.4)
        model = StickModel(structure.lattice, structure.species, "CuKa", (5, 150), rotations=rotations)
        got = model.sticks(torch.tensor(coords), torch.full((3,), 0.4, dtype=torch.float64)).numpy()
        np.testing.assert_array_equal(model.two_theta, tt)
        kept = ref > 0
        np.testing.assert_allclose(got[kept], ref[kept], rtol=0, atol=1e-8)
        assert np.all(got[~kept] <= 1e-3 + 1e-9)
    reduced = StickModel(structure.lattice, structure.species, "CuKa", (5, 150), rotations=par.rotations)
    assert 3 * reduced.n_unique < len(reduced.reflections)  # -3m: up to 6 per orbit in one Friedel half


def _problem(structure, pattern, par, wavelength="MoKa"):
    model = StickModel(structure.lattice, structure.species, wavelength, (1, 120), rotations=par.rotations)
    bins = match_sticks(model.two_theta, pattern.x, pattern.y)
    return StickProblem(model, par.x0, par.basis, bins)


def test_gradient_and_jacobian_match_finite_differences():
    truth = calcite()
    pattern = xrd_pattern(truth, b_factor=B_TRUE, two_theta_range=(1, 120))
    par = symmetry_parametrisation(truth)
    problem = _problem(truth, pattern, par)
    q = torch.tensor([[0.013, 0.9], [-0.02, 0.1]], dtype=torch.float64, requires_grad=True)
    loss = problem.loss(q)
    (grad,) = torch.autograd.grad(loss.sum(), q)
    jac = problem.jacobian(q.detach())
    eps = 1e-6
    for j in range(q.shape[1]):
        dq = torch.zeros_like(q)
        dq[:, j] = eps
        with torch.no_grad():
            fd_loss = (problem.loss(q + dq) - problem.loss(q - dq)) / (2 * eps)
            fd_res = (problem.residuals(q + dq) - problem.residuals(q - dq)) / (2 * eps)
        np.testing.assert_allclose(grad[:, j].numpy(), fd_loss.numpy(), rtol=1e-5)
        np.testing.assert_allclose(
            jac[:, :, j].numpy(), fd_res.numpy(), rtol=1e-4, atol=1e-6 * fd_res.abs().max().item()
        )


@pytest.mark.parametrize("name", list(ALL))
def test_perturbed_positions_refine_back(name):
    truth = ALL[name]()
    pattern = xrd_pattern(truth, b_factor=B_TRUE)  # conventional cell, Mo Kα, 0–180°
    par = symmetry_parametrisation(truth)
    start = Structure(
        truth.lattice, truth.species, par.coords(_displace(truth, par, 0.2, np.random.default_rng(7)))
    )
    result = refine(start, pattern.x, pattern.y, "MoKa", b_start=1.5, n_starts=4, device="cpu")
    assert result.accepted, result.message
    assert result.n_free == FREE[name]
    assert result.space_group == par.space_group
    assert _rms(result.structure, truth) < 0.02
    assert abs(result.b_factor - B_TRUE) < 0.01
    assert result.rwp < 0.01 < result.start_rwp
    assert result.cosine > 0.9999
    if FREE[name] == 0:  # nothing to move: the coordinates stay exactly where they were
        np.testing.assert_array_equal(result.structure.frac_coords, truth.frac_coords % 1.0)
    else:
        assert _rms(start, truth) > 0.05


def test_scale_follows_the_target_scale():
    truth = cscl()
    pattern = xrd_pattern(truth, b_factor=B_TRUE)
    one = refine(truth, pattern.x, pattern.y, n_starts=1, device="cpu")
    many = refine(truth, pattern.x, 37 * np.asarray(pattern.y), n_starts=1, device="cpu")
    assert many.scale == pytest.approx(37 * one.scale, rel=1e-6)
    assert many.rwp == pytest.approx(one.rwp, abs=1e-9)
    np.testing.assert_allclose(many.calculated, 37 * one.calculated, rtol=1e-6)


def test_overlapping_atoms_are_not_accepted():
    squeezed = Structure(Lattice.cubic(1.0), ["Cs", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    tt, y = batch_sticks(squeezed.lattice, squeezed.species, squeezed.frac_coords, "MoKa", (1, 179))
    result = refine(squeezed, tt, y[0], n_starts=2, device="cpu")
    assert not result.accepted
    assert "too close" in result.message
    assert not result.contact.ok and result.contact.distance < result.contact.minimum


def test_p1_refinement_of_a_small_crystal():
    """Every coordinate free: the pattern still pulls the atoms back (up to the free origin)."""
    truth = ALL["SrTiO3"]()
    pattern = xrd_pattern(truth, b_factor=B_TRUE)
    rng = np.random.default_rng(3)
    start = Structure(truth.lattice, truth.species, truth.frac_coords + rng.normal(0, 0.02, (len(truth), 3)))
    result = refine(start, pattern.x, pattern.y, symprec=None, n_starts=1, device="cpu")
    assert result.n_free == 3 * len(truth) and result.space_group == "P1"
    assert result.accepted
    matcher = StructureMatcher(ltol=0.3, stol=0.5, angle_tol=10, primitive_cell=False, scale=False)
    to_angstrom = (truth.volume / len(truth)) ** (1 / 3)
    assert matcher.get_rms_dist(start, truth)[0] * to_angstrom > 0.1
    assert matcher.get_rms_dist(result.structure, truth)[0] * to_angstrom < 0.02
    assert result.rwp < 1e-3 < result.start_rwp


def test_bad_inputs_are_refused():
    truth = cscl()
    pattern = xrd_pattern(truth)
    x, y = np.asarray(pattern.x), np.asarray(pattern.y)
    cases = [
        ((truth, [], []), {}, "no stick"),
        ((truth, x, y[:-1]), {}, "differ in length"),
        ((truth, x, -y), {}, "≥ 0"),
        ((truth, x, 0 * y), {}, "no positive"),
        ((truth, np.r_[0.0, x[1:]], y), {}, "between 0 and 180"),
        ((truth, x, np.r_[np.nan, y[1:]]), {}, "non-finite"),
        ((truth, x, y), {"n_starts": 0}, "n_starts"),
        ((truth, x, y), {"b_start": 20.0}, "b_start"),
        ((truth, x, y), {"wavelength": "XyKa"}, "wavelength"),
        ((truth, x, y), {"match_tol": -1.0}, "tolerance"),
        ((truth, [0.3], [1.0]), {}, "No reflection"),
        ((Structure(truth.lattice, [], []), x, y), {}, "at least one site"),
        ((Structure(truth.lattice, [{"Cs": 0.5, "K": 0.5}, "Cl"], truth.frac_coords), x, y), {}, "partial"),
    ]
    for args, kwargs, match in cases:
        with pytest.raises(ValueError, match=match):
            refine(*args, device="cpu", **kwargs)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_refinement_on_cuda_equals_cpu():
    truth = calcite()
    pattern = xrd_pattern(truth, b_factor=B_TRUE)
    par = symmetry_parametrisation(truth)
    start = Structure(
        truth.lattice, truth.species, par.coords(_displace(truth, par, 0.2, np.random.default_rng(7)))
    )
    cpu = refine(start, pattern.x, pattern.y, n_starts=4, device="cpu")
    gpu = refine(start, pattern.x, pattern.y, n_starts=4, device="cuda")
    assert gpu.accepted
    assert gpu.rwp == pytest.approx(cpu.rwp, abs=1e-8)
    assert gpu.b_factor == pytest.approx(cpu.b_factor, abs=1e-8)
    assert _rms(gpu.structure, cpu.structure) < 1e-6
