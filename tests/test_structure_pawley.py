"""Pawley extraction on simulated profiles: fit to the noise, peak parameters, intensities; refusals."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pymatgen.core import Lattice

from lit_crystals import corundum
from profile_sim import CU_KA1, simulate
from pymatgen_crystalnet.physics.powder_profile import PowderProfile
from pymatgen_crystalnet.structure.pawley import pawley_fit

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def corundum_fit():
    torch.set_num_threads(1)
    crystal = corundum()
    profile, truth = simulate(crystal)
    return crystal, profile, truth, pawley_fit(profile, crystal.lattice)


def test_pawley_fits_to_the_noise_level_and_recovers_the_peak_parameters(corundum_fit):
    crystal, _, truth, fit = corundum_fit
    assert fit.ok and fit.lines.doublet
    # Poisson noise: Rwp within 5 % of the expected Rwp, and the true model's own Rwp
    assert fit.rwp == pytest.approx(fit.rexp, rel=0.05)
    p = fit.params
    assert p["zero"] == pytest.approx(truth["zero"], abs=2e-3)
    assert p["ratio"] == pytest.approx(truth["ratio"], abs=0.02)
    assert p["eta0"] + p["eta1"] * 60 / 90 == pytest.approx(truth["eta"], abs=0.05)
    t = np.tan(np.radians(30))
    fwhm = np.sqrt(truth["U"] * t * t + truth["V"] * t + truth["W"])
    assert fit.fwhm[np.argmin(np.abs(fit.two_theta - 60))] == pytest.approx(fwhm, rel=0.03)
    np.testing.assert_allclose(fit.lattice.parameters, crystal.lattice.parameters, atol=2e-4)


def test_extracted_intensities_are_the_true_ones(corundum_fit):
    _, _, truth, fit = corundum_fit
    sticks = fit.sticks()
    true = np.interp(sticks.two_theta, truth["two_theta"], truth["intensity"]) * truth["scale"]
    # clusters compared as sums (overlapped groups share their intensity arbitrarily)
    n = sticks.cluster.max() + 1
    got, want = np.bincount(sticks.cluster, sticks.intensity, n), np.bincount(sticks.cluster, true, n)
    strong = want > 0.05 * want.max()
    np.testing.assert_allclose(got[strong], want[strong], rtol=0.05)
    # the groups the R-3c absences extinguish come out below three esds, i.e. zero
    extinct = want == 0
    assert extinct.sum() > 10 and np.all(got[extinct] < 1e-3 * got.max())
    assert sticks.wavelength == CU_KA1 and sticks.two_theta_range == (20.0, pytest.approx(99.98))
    assert np.all(np.diff(sticks.cluster) >= 0) and sticks.intensity.min() >= 0


def test_one_line_without_kalpha2():
    crystal = corundum()
    profile, _ = simulate(crystal, doublet=False, lo=25.0, hi=70.0)
    fit = pawley_fit(profile, crystal.lattice, kalpha2=False)
    assert fit.ok and not fit.lines.doublet and fit.params["ratio"] == 0
    assert fit.rwp == pytest.approx(fit.rexp, rel=0.05)


def test_a_weighted_kalpha_profile_without_kalpha2_is_fitted_with_one_line():
    crystal = corundum()
    profile, _ = simulate(crystal, doublet=False, lo=25.0, hi=70.0, wavelength=1.54184)  # "CuKa"
    fit = pawley_fit(profile, crystal.lattice)
    assert not fit.lines.doublet and fit.lines.wavelength == 1.54184 and "no Kα2" in fit.lines.description
    np.testing.assert_allclose(fit.lattice.parameters, crystal.lattice.parameters, atol=2e-4)
    assert fit.rwp == pytest.approx(fit.rexp, rel=0.05)


def test_bad_profiles_are_refused_with_the_reason():
    crystal = corundum()
    tt = np.linspace(20, 30, 20)
    with pytest.raises(ValueError, match="at least 50"):
        pawley_fit(PowderProfile(tt, np.ones(20) * 100, CU_KA1), crystal.lattice)
    flat = PowderProfile(np.arange(20, 60, 0.02), np.full(2000, 100.0), CU_KA1)
    with pytest.raises(ValueError, match="no peak"):
        pawley_fit(flat, crystal.lattice)
    profile, _ = simulate(crystal, lo=20.0, hi=40.0)
    with pytest.raises(ValueError, match="wavelength"):
        pawley_fit(PowderProfile(profile.two_theta, profile.intensity), crystal.lattice)
    with pytest.raises(ValueError, match=r"[Nn]o reflection"):
        pawley_fit(profile, Lattice.cubic(1.2))  # the first reflection lies beyond 40°
    coarse = PowderProfile(profile.two_theta[::12], profile.intensity[::12], CU_KA1)
    with pytest.raises(ValueError, match="Too few measured points"):
        pawley_fit(coarse, Lattice.orthorhombic(12.1, 15.3, 17.2))
