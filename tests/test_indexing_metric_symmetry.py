"""Metric symmetry: a refined triclinic cell promoted to its Bravais lattice and setting."""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Lattice

from pymatgen_crystalnet.indexing.forms import FORMS, reciprocal_metric
from pymatgen_crystalnet.indexing.metric_symmetry import higher_symmetry_settings


def test_metric_symmetry_promotes_a_nearly_monoclinic_cell() -> None:
    cell = Lattice.from_parameters(6.81, 10.00, 10.30, 77.75, 90.08, 90.11)
    found = {s: (p, c) for s, p, c in higher_symmetry_settings(cell)}
    assert "monoclinic" in found
    assert "orthorhombic" not in found
    assert FORMS["monoclinic"].valid(found["monoclinic"][0])
    assert found["monoclinic"][1] == "P"
    # the primitive cell of a C-centred monoclinic lattice comes back C-centred, b unique
    conv = Lattice.monoclinic(13.18, 5.85, 7.63, 116.6)
    prim = Lattice(np.array([[0.5, 0.5, 0], [-0.5, 0.5, 0], [0, 0, 1]]) @ conv.matrix)
    (system, p0, centring), *_ = higher_symmetry_settings(prim)
    assert (system, centring) == ("monoclinic", "C")
    assert np.linalg.det(reciprocal_metric("monoclinic", p0)) == pytest.approx(1 / conv.volume**2, rel=1e-6)

