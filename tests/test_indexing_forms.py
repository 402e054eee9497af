"""Quadratic forms of each lattice system: Q(hkl), feature tables, centring conditions."""

from __future__ import annotations

import numpy as np

from pymatgen_crystalnet.indexing.forms import FORMS, centring_allows, feature_table, reciprocal_metric


def test_forms_reproduce_q_of_their_metric() -> None:
    rng = np.random.default_rng(0)
    hkl = rng.integers(-4, 5, size=(50, 3))
    for system, p in {
        "cubic": [0.03],
        "tetragonal": [0.03, 0.05],
        "hexagonal": [0.03, 0.05],
        "orthorhombic": [0.03, 0.04, 0.05],
        "monoclinic": [0.03, 0.04, 0.05, 0.01],
    }.items():
        form = FORMS[system]
        g = reciprocal_metric(system, np.array(p))
        q_metric = np.einsum("ij,jk,ik->i", hkl, g, hkl)
        if system in ("cubic", "tetragonal", "orthorhombic", "hexagonal", "monoclinic"):
            assert np.allclose(form.features(hkl) @ np.array(p), q_metric)


def test_feature_table_is_distinct_and_cached() -> None:
    t = feature_table(FORMS["cubic"], 3, 3, 3)
    assert list(t[:7, 0]) == [1, 2, 3, 4, 5, 6, 8]  # 7 is not a sum of three squares
    assert feature_table(FORMS["cubic"], 3, 3, 3) is t


def test_centring_conditions_from_features() -> None:
    feats = feature_table(FORMS["orthorhombic"], 2, 2, 2)
    h, k, l = (np.sqrt(feats[:, i]).astype(int) for i in range(3))  # noqa: E741
    assert np.array_equal(centring_allows("orthorhombic", feats, "I"), (h + k + l) % 2 == 0)
    assert np.array_equal(centring_allows("orthorhombic", feats, "C"), (h + k) % 2 == 0)
    cubic = feature_table(FORMS["cubic"], 2, 2, 2)[:, 0]
    assert cubic[centring_allows("cubic", cubic[:, None], "F")].tolist()[:3] == [3, 4, 8]

