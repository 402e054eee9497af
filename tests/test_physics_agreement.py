"""Pattern agreement metrics (physics/agreement.py), checked against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from pymatgen_crystalnet.io.patterns import PowderProfile
from pymatgen_crystalnet.physics.agreement import (
    cosine_similarity,
    profile_rwp,
    rwp,
    simulate_profile,
)


def test_cosine_hand_values():
    assert cosine_similarity([1, 0], [0, 1]) == 0.0
    assert cosine_similarity([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0)
    # (1,2,2)·(2,1,2) = 8, norms 3 and 3.
    assert cosine_similarity([1, 2, 2], [2, 1, 2]) == pytest.approx(8 / 9)
    assert isinstance(cosine_similarity([1, 2], [3, 4]), float)


def test_cosine_batched_and_broadcast():
    a = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 2.0]])
    out = cosine_similarity(a, [1.0, 0.0])
    assert out.shape == (3,)
    assert np.allclose(out, [1.0, 1 / np.sqrt(2), 0.0])
    batch = np.random.default_rng(0).random((4, 5, 16))
    full = cosine_similarity(batch, batch[:, :1])
    assert full.shape == (4, 5)
    assert np.allclose(full[:, 0], 1.0)


@pytest.mark.parametrize(
    ("a", "b", "match"),
    [
        ([1, 2, 3], [1, 2], "differ in length"),
        ([], [], "empty"),
        ([1, np.nan], [1, 2], "NaN"),
        ([0, 0], [1, 2], "all-zero"),
        (np.ones((2, 3)), np.ones((3, 3)), "do not broadcast"),
    ],
)
def test_cosine_errors(a, b, match):
    with pytest.raises(ValueError, match=match):
        cosine_similarity(a, b)


def test_rwp_hand_values():
    # Proportional patterns: scale 0.5 fitted, perfect match.
    r, c = rwp([1, 2, 3], [2, 4, 6], return_scale=True)
    assert r == pytest.approx(0.0, abs=1e-12) and c == pytest.approx(0.5)
    # Without the fit: residual (−1, −2, −3), Σ = 14 over Σ y_o² = 14.
    assert rwp([1, 2, 3], [2, 4, 6], fit_scale=False) == pytest.approx(1.0)
    # y_o = (1, 0), y_c = (1, 1): c = 1/2, residual (½, −½), Rwp = √0.5.
    assert rwp([1, 0], [1, 1]) == pytest.approx(np.sqrt(0.5))
    # Weights (1, 3): c = 1/(1 + 3) = ¼, Σw r² = 0.75² + 3·0.25² = 0.75, Σw y_o² = 1.
    r, c = rwp([1, 0], [1, 1], weights=[1, 3], return_scale=True)
    assert c == pytest.approx(0.25) and r == pytest.approx(np.sqrt(0.75))
    # Calculated all zero: scale 0, Rwp 1.
    assert rwp([1, 2], [0, 0]) == pytest.approx(1.0)


def test_rwp_batched():
    obs = np.array([[1.0, 2.0, 3.0], [1.0, 0.0, 0.0]])
    calc = np.array([2.0, 4.0, 6.0])
    out = rwp(obs, calc)
    assert out.shape == (2,)
    # Second row: c = 2/56 = 1/28, residual (1 − 2/28, −4/28, −6/28).
    expected = np.sqrt((1 - 2 / 28) ** 2 + (4 / 28) ** 2 + (6 / 28) ** 2)
    assert np.allclose(out, [0.0, expected])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"observed": [1, 2], "calculated": [1, 2, 3]}, "differ in length"),
        ({"observed": [], "calculated": []}, "empty"),
        ({"observed": [1, np.inf], "calculated": [1, 2]}, "NaN"),
        ({"observed": [0, 0], "calculated": [1, 2]}, "zero wherever"),
        ({"observed": [1, 2], "calculated": [1, 2], "weights": [1, -1]}, "non-negative"),
        ({"observed": [1, 2], "calculated": [1, 2], "weights": [1, 1, 1]}, "differ in length"),
    ],
)
def test_rwp_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        rwp(**kwargs)


def _profile(sigma=None, background=0.0):
    grid = np.arange(10.0, 40.0, 0.02)
    y = 1000.0 * simulate_profile([15.0, 22.0, 31.0], [1.0, 0.5, 0.25], grid, fwhm=0.1) + background
    return PowderProfile(grid, y, 1.5406, sigma, "test")


def test_profile_rwp_perfect_and_scale():
    prof = _profile()
    r, c = profile_rwp(prof, [15.0, 22.0, 31.0], [2.0, 1.0, 0.5], fwhm=0.1, return_scale=True)
    assert r == pytest.approx(0.0, abs=1e-9)
    assert c == pytest.approx(500.0)


def test_profile_rwp_background_and_misfit():
    prof = _profile(background=100.0)
    sticks = ([15.0, 22.0, 31.0], [1.0, 0.5, 0.25])
    assert profile_rwp(prof, *sticks, background=np.full(len(prof), 100.0)) < 1e-9
    with_bkg = profile_rwp(prof, *sticks)
    assert 0.5 < with_bkg < 1.0  # background counted as misfit
    # A wrong peak position is worse than the right one; unit weights match rwp().
    wrong = profile_rwp(prof, [15.5, 22.0, 31.0], [1.0, 0.5, 0.25], weighting="unit")
    y_c = simulate_profile([15.5, 22.0, 31.0], [1.0, 0.5, 0.25], prof.two_theta, fwhm=0.1)
    assert wrong == pytest.approx(rwp(prof.intensity, y_c))
    assert wrong > profile_rwp(prof, *sticks, weighting="unit")


def test_profile_rwp_weightings():
    base = _profile(background=10.0)
    sigma = np.sqrt(base.intensity)
    prof = PowderProfile(base.two_theta, base.intensity, 1.5406, sigma)
    sticks = ([15.02, 22.0, 31.0], [1.0, 0.5, 0.25])
    y_c = simulate_profile(*sticks, prof.two_theta, fwhm=0.1)
    # σ² = y_o here, so 1/σ² and Poisson 1/y_o weights agree.
    auto = profile_rwp(prof, *sticks)
    assert auto == pytest.approx(rwp(prof.intensity, y_c, 1 / sigma**2))
    assert auto == pytest.approx(profile_rwp(prof, *sticks, weighting="poisson"))
    with pytest.raises(ValueError, match="needs a profile with sigma"):
        profile_rwp(base, *sticks, weighting="sigma")
    with pytest.raises(ValueError, match="Unknown weighting"):
        profile_rwp(base, *sticks, weighting="chi")
    with pytest.raises(ValueError, match="background has shape"):
        profile_rwp(base, *sticks, background=np.zeros(3))


def test_simulate_profile_errors_and_sum():
    grid = np.linspace(0, 10, 101)
    two = simulate_profile([3.0, 3.0], [1.0, 2.0], grid, fwhm=[0.5, 0.5])
    assert np.allclose(two, simulate_profile([3.0], [3.0], grid, fwhm=0.5))
    with pytest.raises(ValueError, match="eta"):
        simulate_profile([1.0], [1.0], grid, eta=1.5)
    with pytest.raises(ValueError, match="fwhm"):
        simulate_profile([1.0], [1.0], grid, fwhm=0.0)
    with pytest.raises(ValueError, match="non-negative"):
        simulate_profile([1.0], [-1.0], grid)
    with pytest.raises(ValueError, match="differ in length"):
        simulate_profile([1.0, 2.0], [1.0], grid)
