"""Batch linear fit of reciprocal metrics and the zero shift."""

from __future__ import annotations

import numpy as np
import pytest

from pymatgen_crystalnet.indexing.forms import reciprocal_metric
from pymatgen_crystalnet.indexing.metric_fit import fit_metrics
from pymatgen_crystalnet.indexing.refine import q_to_tt


def test_fit_metrics_recovers_metric_and_zero() -> None:
    lam = 1.54056
    g = reciprocal_metric("triclinic", np.array([0.040, 0.030, 0.020, 0.004, -0.006, 0.003]))
    hkl = np.array([[h, k, l] for h in range(-3, 4) for k in range(-3, 4) for l in range(-3, 4)])  # noqa: E741
    first = np.where(hkl[:, 0] != 0, hkl[:, 0], np.where(hkl[:, 1] != 0, hkl[:, 1], hkl[:, 2]))
    q = np.unique(np.round(np.einsum("ij,jk,ik->i", hkl[first > 0], g, hkl[first > 0]), 9))[:20]
    tt = q_to_tt(q, lam) + 0.03
    start = g * (1 + np.array([[0.002, 0.001, 0.0], [0.001, -0.001, 0.0], [0.0, 0.0, 0.001]]))
    fit = fit_metrics(start[None], tt, lam, np.full(tt.size, 0.04), 0.06)
    assert fit.valid[0] and fit.n_indexed[0] == 20
    assert fit.zero[0] == pytest.approx(0.03, abs=2e-3)
    assert fit.gstar[0] == pytest.approx(g, rel=2e-3, abs=2e-6)

