"""Rietveld refinement on simulated profiles: exact Jacobian, recovery of displaced atoms, refusals."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pymatgen.core import Lattice, Structure

from lit_crystals import calcite, corundum
from profile_sim import simulate
from pymatgen_crystalnet.structure.pawley import pawley_fit
from pymatgen_crystalnet.structure.rietveld import rietveld_refine
from pymatgen_crystalnet.structure.rietveld_problem import RietveldProblem
from pymatgen_crystalnet.structure.wyckoff_params import symmetry_parametrisation

CRYSTALS = {"corundum": corundum, "calcite": calcite}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def fits():
    torch.set_num_threads(1)
    out = {}
    for name, make in CRYSTALS.items():
        crystal = make()
        profile, truth = simulate(crystal, lo=20.0, hi=90.0, seed=1)
        out[name] = (crystal, profile, truth, pawley_fit(profile, crystal.lattice))
    return out


def _displaced(structure: Structure, amount: float, seed: int) -> Structure:
    """Each orbit's representative moved by ``amount`` Å in a random symmetry-allowed direction."""
    par = symmetry_parametrisation(structure)
    rng = np.random.default_rng(seed)
    p = par.params_of(structure.frac_coords)
    for k, orbit in enumerate(par.orbits):
        cols = np.flatnonzero(par.param_orbit == k)
        if len(cols):
            v = rng.normal(size=len(cols))
            length = np.linalg.norm(par.basis[orbit[0]][:, cols] @ v @ structure.lattice.matrix)
            p[cols] += v * amount / length
    return Structure(structure.lattice, structure.species, par.coords(p))


def _max_shift(a: Structure, b: Structure) -> float:
    d = a.frac_coords - b.frac_coords
    d -= np.round(d)
    return float(np.linalg.norm(d @ b.lattice.matrix, axis=1).max())


def test_jacobian_equals_finite_differences(fits):
    crystal, profile, _, pawley = fits["corundum"]
    problem = RietveldProblem(_displaced(crystal, 0.1, 0), profile, pawley)
    q = problem.start(_displaced(crystal, 0.1, 0), 0.8)
    jac = problem.jacobian(q)
    n_shape = len(problem.peaks.names) - problem.peaks.metric.n_params
    for k in range(q.numel()):
        cell = k >= problem.n_p + 1 + n_shape
        h = 1e-9 if cell else 1e-6 * max(1.0, abs(float(q[k])))  # metric coefficients are ~1e-2 Å⁻²
        up, down = q.clone(), q.clone()
        up[k] += h
        down[k] -= h
        fd = (problem.residuals(up) - problem.residuals(down)) / (2 * h)
        assert float(torch.linalg.norm(fd - jac[:, k])) <= 1e-5 * float(torch.linalg.norm(fd)) + 1e-9, k


@pytest.mark.parametrize("name", list(CRYSTALS))
def test_displaced_atoms_refine_back(fits, name):
    crystal, profile, _, pawley = fits[name]
    start = _displaced(crystal, 0.2, 3)
    assert _max_shift(start, crystal) > 0.15
    res = rietveld_refine(start, profile, pawley, b_start=1.5)
    assert res.accepted, res.message
    assert _max_shift(res.structure, crystal) < 0.02
    assert res.rwp == pytest.approx(res.rexp, rel=0.05) and res.start_rwp > 1.5 * res.rwp
    assert res.b_factor == pytest.approx(0.5, abs=0.15)
    assert res.r_bragg < 0.03
    np.testing.assert_allclose(res.structure.lattice.parameters, crystal.lattice.parameters, atol=5e-4)
    assert res.calculated.shape == profile.two_theta.shape and res.reflections.size > 10
    assert res.parametrisation.space_group == "R-3c"


def test_a_crystal_on_another_cell_is_refused(fits):
    crystal, profile, _, pawley = fits["corundum"]
    other = Structure(Lattice.hexagonal(5.0, 13.5), crystal.species, crystal.frac_coords)
    with pytest.raises(ValueError, match="not the fitted cell"):
        rietveld_refine(other, profile, pawley)
