"""The torch profile model: peak function, emission lines, cell metric, windows; the bounded solve."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pymatgen.core import Lattice

from pymatgen_crystalnet.physics.reflections import enumerate_reflections
from pymatgen_crystalnet.structure.profile_lm import agreement, bounded_least_squares, profile_weights
from pymatgen_crystalnet.structure.profile_model import (
    CellMetric,
    PeakProfile,
    emission_lines,
    pseudo_voigt,
)


@pytest.mark.parametrize("eta", [0.0, 0.5, 1.0])
def test_pseudo_voigt_has_unit_area_and_the_given_fwhm(eta):
    x = torch.linspace(-400, 400, 800_001, dtype=torch.float64)
    h = torch.tensor(0.1, dtype=torch.float64)
    y = pseudo_voigt(x, h, torch.tensor(eta, dtype=torch.float64))
    # Lorentzian tails beyond ±400 hold 2/π · atan(1/8000) ≈ 8e-5 of the area
    assert float(torch.trapezoid(y, x)) == pytest.approx(1.0, abs=1e-4)
    peak = float(pseudo_voigt(torch.zeros(1, dtype=torch.float64), h, torch.tensor(eta)).item())
    half = float(pseudo_voigt(torch.tensor([0.05], dtype=torch.float64), h, torch.tensor(eta)).item())
    assert half == pytest.approx(peak / 2, rel=1e-9)


def test_emission_lines():
    cu = emission_lines(1.5418)
    assert cu.doublet and cu.wavelength == pytest.approx(1.54056) and cu.wavelength2 == pytest.approx(1.54439)
    assert cu.ratio == 0.5
    ka1 = emission_lines(1.540562)
    assert ka1.doublet and ka1.wavelength == 1.540562
    assert ka1.wavelength2 == pytest.approx(1.540562 * 1.54439 / 1.54056)
    mo = emission_lines(0.71073)
    assert mo.doublet and mo.wavelength == pytest.approx(0.7093)
    assert not emission_lines(0.49935).doublet and emission_lines(0.49935).wavelength == 0.49935
    assert not emission_lines(1.5418, kalpha2=False).doublet
    with pytest.raises(ValueError, match="not the Kα"):
        emission_lines(0.49935, kalpha2=True)
    with pytest.raises(ValueError, match="kalpha2"):
        emission_lines(1.5418, kalpha2="yes")


@pytest.mark.parametrize(
    ("lattice", "n"),
    [
        (Lattice.cubic(5.43), 1),
        (Lattice.hexagonal(4.76, 12.99), 2),
        (Lattice.tetragonal(3.99, 4.03), 2),
        (Lattice.orthorhombic(5.94, 8.22, 5.72), 3),
        (Lattice.monoclinic(7.59, 4.14, 6.06, 101.5), 4),
        (Lattice.from_parameters(5.1, 6.2, 7.3, 80, 95, 105), 6),
    ],
)
def test_cell_metric_keeps_the_lattice_symmetry_and_its_d_spacings(lattice, n):
    metric = CellMetric(lattice)
    assert metric.n_params == n and metric.residual < 1e-12
    back = metric.lattice(metric.c0)
    np.testing.assert_allclose(back.parameters, lattice.parameters, atol=1e-9)
    np.testing.assert_allclose(back.matrix, lattice.matrix, atol=1e-9)  # same orientation
    hkl = np.array([[1, 0, 0], [1, 1, 0], [1, 2, 3], [2, -1, 1]])
    inv_d2 = np.einsum("gi,ij,gj->g", hkl, metric.g_star(metric.c0), hkl)
    np.testing.assert_allclose(1 / np.sqrt(inv_d2), [lattice.d_hkl(h) for h in hkl], rtol=1e-12)


def test_peak_positions_are_the_reflections_and_windows_equal_a_dense_evaluation():
    lattice = Lattice.hexagonal(4.76, 12.99)
    refl = enumerate_reflections(lattice.matrix, 1.54056, (20, 60))
    hkl = refl.hkl[refl.starts]
    tt = np.arange(20.0, 60.0, 0.01)
    peaks = PeakProfile(tt, hkl, CellMetric(lattice), emission_lines(1.54056))
    theta = peaks.initial(0.08)
    theta[0] = 0.03  # zero shift
    theta[1] = 0.01  # U
    centres = peaks.centres(theta).detach().numpy()
    np.testing.assert_allclose(centres[0], refl.two_theta[refl.starts] + 0.03, atol=1e-9)
    assert np.all(centres[1] > centres[0])  # Kα2 above Kα1
    inten = torch.rand(len(hkl), dtype=torch.float64)
    windowed = peaks.peaks(theta, peaks.windows(theta), inten).numpy()
    # dense: every peak on every point
    h = peaks.fwhm(theta).detach().numpy()
    eta = peaks.eta(theta).detach().numpy()
    x = torch.as_tensor(tt[:, None] - centres.reshape(-1)[None, :])
    shapes = pseudo_voigt(x, torch.as_tensor(np.tile(h, 2)), torch.as_tensor(np.tile(eta, 2))).numpy()
    dense = shapes @ np.concatenate([inten.numpy(), 0.5 * inten.numpy()])
    # the windows cut the Lorentzian tails at ≥ 15 FWHM: below 1 % of the strongest point
    assert np.abs(windowed - dense).max() < 1e-2 * dense.max()
    design = peaks.design_scipy(theta, peaks.windows(theta))
    np.testing.assert_allclose(design @ inten.numpy(), windowed, rtol=1e-10, atol=1e-12)


def test_bounded_least_squares_matches_scipy():
    from scipy.optimize import lsq_linear
    from scipy.sparse import csc_matrix

    rng = np.random.default_rng(3)
    a = rng.normal(size=(80, 12))
    a[:, :8] = np.abs(a[:, :8])
    target = a[:, :8] @ np.r_[1.0, 0.0, 2.0, 0.0, 0.5, 0.0, 0.0, 3.0] - a[:, 8:] @ np.r_[1.0, -2.0, 0.5, 0.0]
    target += rng.normal(scale=2.0, size=80)
    nonneg = np.arange(12) < 8
    ours = bounded_least_squares(csc_matrix(a), target, nonneg)
    ref = lsq_linear(a, target, bounds=(np.where(nonneg, 0, -np.inf), np.inf), tol=1e-12).x
    np.testing.assert_allclose(ours, ref, atol=1e-6)
    assert np.all(ours[nonneg] >= 0) and np.any(ours[nonneg] == 0)
    warm = bounded_least_squares(csc_matrix(a), target, nonneg, start=ours + 0.1 * nonneg)
    np.testing.assert_allclose(warm, ref, atol=1e-6)


def test_weights_and_agreement():
    y = np.array([100.0, 0.0, 400.0, 300.0, 250.0])
    w = profile_weights(y)
    assert w[1] == 0 and w[0] == pytest.approx(0.01)  # a zero among counts is missing data
    w_sigma = profile_weights(y, sigma=np.array([10.0, 1.0, 20.0, 17.0, 16.0]))
    assert w_sigma[0] == pytest.approx(0.01) and w_sigma[1] == 0
    fig = agreement(y, y, w, 1)
    assert fig["rwp"] == 0 and fig["rp"] == 0 and fig["rexp"] > 0
