"""Third-row search from zones: reduction of trial metrics keeps their lattice."""

from __future__ import annotations

import numpy as np
import pytest

from pymatgen_crystalnet.indexing.forms import reciprocal_metric
from pymatgen_crystalnet.indexing.zone_search import reduce_metrics


def test_reduce_metrics_keeps_the_lattice() -> None:
    g = reciprocal_metric("monoclinic", np.array([0.03, 0.02, 0.05, 0.01]))
    t = np.array([[1, 2, 0], [0, 1, 0], [1, 3, 1]], dtype=float)  # unimodular
    skew = t @ g @ t.T
    red = reduce_metrics(skew[None])[0]
    assert np.linalg.det(red) == pytest.approx(np.linalg.det(g), rel=1e-9)
    assert np.sort(np.diag(red)) == pytest.approx(np.sort(np.diag(reduce_metrics(g[None])[0])), rel=1e-9)

