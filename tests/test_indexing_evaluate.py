"""Figures of merit and centring of a refined cell."""

from __future__ import annotations

import numpy as np
import pytest

from pymatgen_crystalnet.indexing.evaluate import centring_mask, evaluate_cell, lattice_parameters
from pymatgen_crystalnet.indexing.forms import reciprocal_metric


def test_centring_conditions() -> None:
    hkl = np.array([[1, 0, 0], [1, 1, 0], [1, 1, 1], [2, 0, 0], [1, 0, 1]])
    assert centring_mask(hkl, "I").tolist() == [False, True, False, True, True]
    assert centring_mask(hkl, "F").tolist() == [False, False, True, True, False]
    assert centring_mask(hkl, "C").tolist() == [False, True, True, True, False]
    assert centring_mask(np.array([[1, 0, 1], [0, 1, 2], [1, 0, 0]]), "R").tolist() == [True, True, False]


def test_m20_of_exact_cubic_lines() -> None:
    a, lam = 4.0, 1.54056
    g = reciprocal_metric("cubic", np.array([1 / a**2]))
    n = np.array([1, 2, 3, 4, 5, 6, 8, 9, 10, 11])
    tt = 2 * np.degrees(np.arcsin(lam * np.sqrt(n) / (2 * a)))
    tt_shifted = tt + np.array([0.01, -0.01] * 5)
    ev = evaluate_cell(g, 0.0, tt_shifted, lam, np.full(10, 0.03), ("P", "I", "F"))
    assert ev.centring == "P"
    assert ev.indexed.all()
    assert ev.n20_calc == 10
    # M = Q_N / (2 ε̄ N_calc) by hand
    q = (2 * np.sin(np.radians(tt_shifted) / 2) / lam) ** 2
    eps = np.abs(q - n / a**2).mean()
    assert ev.m20 == pytest.approx(q[-1] / (2 * eps * 10), rel=1e-6)
    assert ev.f_n == pytest.approx(10 / (10 * 0.01), rel=1e-3)  # N / (N_poss · mean abs Δ2θ)
    assert lattice_parameters(g) == pytest.approx([4, 4, 4, 90, 90, 90])

