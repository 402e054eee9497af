"""From a measured profile to Rietveld-refined structures: the pipeline, the solver's path, bad input."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from pymatgen.core import Lattice

from lit_crystals import corundum, nacl
from profile_sim import CU_KA1, simulate
from pymatgen_crystalnet.physics.powder_profile import PowderProfile
from pymatgen_crystalnet.structure.candidate_pool import default_matcher, min_distance_violation
from pymatgen_crystalnet.structure.config import StructureSolveConfig
from pymatgen_crystalnet.structure.profile_pipeline import solve_structures_from_profile

MATCHER = default_matcher()
FAST = {"n_search_trials": 10, "n_refine": 3, "n_rietveld": 2, "keep": 3, "time_budget_s": 120.0,
        "use_network": False}  # fmt: skip


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def nacl_profile():
    return simulate(nacl(), lo=20.0, hi=100.0, seed=2)[0]


def _check_candidates(solution):
    for cand in solution.candidates:
        assert cand.structure is not None and min_distance_violation(cand.structure) is None


def test_a_simulated_profile_is_solved_and_rietveld_refined(nacl_profile):
    truth = nacl()
    solution = solve_structures_from_profile(truth.lattice, "NaCl", nacl_profile,
                                             config=StructureSolveConfig(**FAST))  # fmt: skip
    assert solution.reason is None, solution.reason
    fit = solution.profile_fit
    assert fit["ok"] and fit["rwp"] < 1.1 * fit["rexp"] and fit["lines"].startswith("Cu Kα1")
    best = solution.candidates[0]
    assert MATCHER.fit(best.structure, truth) and best.space_group == "Fm-3m"
    assert best.rwp == best.figures_of_merit["profile_rwp"] < 1.1 * fit["rexp"]
    assert best.r_bragg < 0.03 and "stick_rwp" in best.figures_of_merit
    ref = best.refinement
    assert ref["rietveld"]["accepted"] and len(ref["profile_calculated"]) == len(nacl_profile)
    assert solution.timings["pawley"] > 0 and solution.timings["rietveld"] > 0
    assert "Pawley" in solution.notes[0]
    _check_candidates(solution)
    assert solution.as_dict()["profile_fit"]["n_observed"] > 5


def test_free_parameters_are_found_from_a_profile():
    truth = corundum()
    profile, _ = simulate(truth, lo=20.0, hi=90.0, seed=4)
    config = StructureSolveConfig(**{**FAST, "space_group": "R-3c", "z": 6, "n_search_trials": 40})
    solution = solve_structures_from_profile(truth.lattice, "Al2O3", profile, config=config)
    assert solution.reason is None, solution.reason
    best = solution.candidates[0]
    assert MATCHER.fit(best.structure, truth)
    _, max_dist = MATCHER.get_rms_dist(best.structure, truth)  # in units of (V / N)^(1/3)
    assert max_dist * (truth.volume / len(truth)) ** (1 / 3) < 0.02
    assert best.figures_of_merit["profile_rwp"] < 1.1 * solution.profile_fit["rexp"]
    _check_candidates(solution)


def test_bad_profiles_give_a_reason_not_an_exception(nacl_profile):
    lattice = nacl().lattice
    config = StructureSolveConfig(**FAST)
    short = PowderProfile(np.linspace(20, 40, 30), np.full(30, 50.0), CU_KA1)
    sol = solve_structures_from_profile(lattice, "NaCl", short, config=config)
    assert sol.candidates == [] and "profile fit refused" in sol.reason and "at least 50" in sol.reason
    flat = PowderProfile(np.arange(20, 60, 0.02), np.full(2000, 100.0), CU_KA1)
    assert "no peak" in solve_structures_from_profile(lattice, "NaCl", flat, config=config).reason
    noise = PowderProfile(np.arange(20, 60, 0.02), np.random.default_rng(0).poisson(100, 2000).astype(float),
                          CU_KA1)  # fmt: skip
    sol = solve_structures_from_profile(lattice, "NaCl", noise, config=config)
    assert sol.candidates == [] and sol.reason.startswith("profile fit")
    not_a_profile = solve_structures_from_profile(lattice, "NaCl", "x.xy", config=config)
    assert "profile fit refused" in not_a_profile.reason
    no_lambda = PowderProfile(nacl_profile.two_theta, nacl_profile.intensity)
    assert "wavelength" in solve_structures_from_profile(lattice, "NaCl", no_lambda, config=config).reason
    # a cell whose reflections miss the peaks: the fit is poor and nothing NaCl-like comes out,
    # but whatever is returned keeps its atoms apart
    short_budget = StructureSolveConfig(**{**FAST, "time_budget_s": 20.0})
    wrong = solve_structures_from_profile(Lattice.cubic(6.3), "NaCl", nacl_profile, config=short_budget)
    _check_candidates(wrong)
    if wrong.candidates:
        assert not MATCHER.fit(wrong.candidates[0].structure, nacl())


def test_the_solver_uses_the_profile_and_falls_back_to_peaks(nacl_profile, monkeypatch):
    from pymatgen_crystalnet.solver.inputs import prepare_pattern
    from pymatgen_crystalnet.solver.structures import solve_candidate_structures

    prepared = prepare_pattern(nacl_profile)
    config = StructureSolveConfig(**FAST)
    cell = nacl().lattice
    structures, info = solve_candidate_structures([], cell, {}, prepared, "NaCl", "full", config)
    assert structures and info["profile_fit"]["ok"]
    best = structures[0]
    assert {"profile_calculated", "profile_two_theta", "reflections"} <= set(best.fit)
    assert "profile_calculated" not in best.provenance["refinement"]
    assert best.provenance["refinement"]["rietveld"]["accepted"]

    import pymatgen_crystalnet.structure.pawley as pawley

    def refuse(*args, **kwargs):
        raise ValueError("simulated refusal")

    monkeypatch.setattr(pawley, "pawley_fit", refuse)
    structures, info = solve_candidate_structures([], cell, {}, prepared, "NaCl", "full", config)
    assert structures and "profile_calculated" not in structures[0].fit
    assert "simulated refusal" in info["notes"][0] and "picked peaks" in info["notes"][0]


def test_the_figure_draws_the_fitted_profile(nacl_profile):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from pymatgen_crystalnet.plotting.solve import _profile_panel

    tt = np.asarray(nacl_profile.two_theta)
    calc = np.asarray(nacl_profile.intensity) * 0.9
    fit = {
        "profile_two_theta": tt,
        "profile_calculated": calc,
        "profile_background": np.full(tt.shape, 100.0),
        "reflections": np.array([27.4, 31.7, 45.4]),
    }
    cand = SimpleNamespace(solution=SimpleNamespace(fit=fit, rwp=0.05))
    fig, ax = plt.subplots()
    _profile_panel(ax, cand, nacl_profile, CU_KA1, "title")
    assert any(np.array_equal(line.get_ydata(), calc) for line in ax.get_lines())
    assert "Rwp 0.050" in ax.get_title()
    plt.close(fig)
