"""Zones (Ito's method): Gauss reduction, super-zones, and the zones of a known lattice found."""

from __future__ import annotations

import numpy as np
import pytest

from pymatgen_crystalnet.indexing.forms import reciprocal_metric
from pymatgen_crystalnet.indexing.zones import find_zones, reduce_zones, superzones


def test_gauss_reduction_of_zones() -> None:
    # basis (u, v) = (1, 0), (3, 1) of the square net: reduced is (1, 1, 0)
    q1, q2, phi = reduce_zones(np.array([1.0]), np.array([10.0]), np.array([3.0]))
    assert (q1[0], q2[0], phi[0]) == pytest.approx((1.0, 1.0, 0.0))
    a, b, f, parent = superzones(np.array([4.0]), np.array([9.0]), np.array([1.0]))
    assert parent.tolist() == [0] * 5
    assert (a[1], b[1], f[1]) == pytest.approx((1.0, 9.0, 0.5))  # u/2


def test_zones_of_an_orthorhombic_lattice_are_found() -> None:
    # lines of a primitive orthorhombic cell; its (hk0) net must rank among the zones
    a_, b_, c_ = 4.1, 5.3, 7.7
    g = reciprocal_metric("orthorhombic", np.array([1 / a_**2, 1 / b_**2, 1 / c_**2]))
    hkl = np.array([[h, k, l] for h in range(3) for k in range(4) for l in range(5) if h or k or l])  # noqa: E741
    q = np.unique(np.round(np.einsum("ij,jk,ik->i", hkl, g, hkl), 8))[:20]
    zones = find_zones(q, np.full(q.size, 2e-5), max_zones=40)
    target = (1 / a_**2, 1 / b_**2)
    near = (np.abs(zones.q1 - min(target)) < 1e-4) & (np.abs(zones.q2 - max(target)) < 1e-4)
    assert np.any(near & (zones.phi < 1e-4))

