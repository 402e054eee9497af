"""The IAM's shared terms (physics/iam_terms.py) and the public face of physics/iam.py."""

from __future__ import annotations

import numpy as np
import pytest

from pymatgen_crystalnet.physics import form_factors, iam, iam_grid, iam_points, iam_terms
from pymatgen_crystalnet.physics.form_factors import electron_count, form_factor
from pymatgen_crystalnet.physics.iam_terms import FOUR_PI2, split_terms, wide_structure_factors

LATTICE = np.array([[4.0, 0.0, 0.0], [0.8, 5.0, 0.0], [0.3, -0.4, 6.0]])
FRAC = np.array([[0.1, 0.2, 0.3], [0.55, 0.5, 0.45]])
ZS = np.array([11, 17])


def _terms(split_width=12.0, eps=1e-10, b_factor=1.0):
    return split_terms(LATTICE, FRAC, ZS, None, b_factor, None, split_width, eps)


def test_split_marks_narrow_terms_and_cutoff_reaches_eps():
    t = _terms()
    assert np.array_equal(t.narrow, t.widths < 12.0)
    assert t.widths.shape == (2, 6) and np.allclose(t.widths[:, -1], 1.0)  # constant: w = B
    # the widest narrow term has fallen to eps of its peak at r_cut
    w = t.widths[t.narrow].max()
    assert np.exp(-FOUR_PI2 * t.r_cut**2 / w) == pytest.approx(1e-10, rel=1e-9)
    assert np.allclose(t.delta, t.r_cut * np.linalg.norm(np.linalg.inv(LATTICE), axis=0))
    assert np.all((t.frac >= 0) & (t.frac < 1))


def test_weights_sum_to_electrons():
    t = _terms()
    assert t.weights.sum() == pytest.approx(electron_count(ZS), rel=1e-12)


def test_friedel_half_and_full_reflection_sets_agree():
    t = _terms()
    wide = ~t.narrow
    h_half, re_half, im_half, f000 = wide_structure_factors(
        t.lattice, t.recip, t.frac, t.weights, t.widths, wide, t.log_eps, half=True
    )
    h_full, re_full, im_full, f000_full = wide_structure_factors(
        t.lattice, t.recip, t.frac, t.weights, t.widths, wide, t.log_eps, half=False
    )
    assert f000 == f000_full == pytest.approx(t.weights[wide].sum())
    assert len(h_full) == 2 * len(h_half) + 1
    assert not np.any(np.all(h_half == 0, axis=1))
    full = {tuple(h): (r, i) for h, r, i in zip(h_full.tolist(), re_full, im_full)}
    assert full[(0, 0, 0)][0] == pytest.approx(f000) and full[(0, 0, 0)][1] == pytest.approx(0.0)
    for h, r, i in zip(h_half.tolist(), re_half, im_half):
        assert full[tuple(h)] == pytest.approx((r, i))
        assert full[tuple(-v for v in h)] == pytest.approx((r, -i))  # F(−h) = F(h)*


def test_no_wide_terms_gives_empty_reflections():
    t = _terms(split_width=np.inf)
    hkl, f_re, f_im, f000 = wide_structure_factors(
        t.lattice, t.recip, t.frac, t.weights, t.widths, ~t.narrow, t.log_eps, half=True
    )
    assert hkl.shape == (0, 3) and f_re.size == f_im.size == 0 and f000 == 0.0


def test_electron_count_is_sum_of_f0_at_zero():
    expected = 0.5 * float(form_factor("Fe", 0.0)) + float(form_factor("O", 0.0))
    assert electron_count([26, 8], [0.5, 1.0]) == pytest.approx(expected, rel=1e-12)
    assert abs(electron_count([26, 8]) - 34) < 0.1


def test_iam_facade_names_are_the_modules_own():
    assert iam.IAMPlan is iam_points.IAMPlan
    assert iam.build_plan is iam_points.build_plan
    assert iam.evaluate_plan is iam_points.evaluate_plan
    assert iam.iam_density_grid is iam_grid.iam_density_grid
    assert iam.iam_grid_from_arrays is iam_grid.iam_grid_from_arrays
    assert iam.structure_arrays is iam_terms.structure_arrays
    assert iam.electron_count is form_factors.electron_count
    assert iam.DEFAULT_B_FACTOR == 1.0
    assert set(iam.__all__) <= set(dir(iam))
