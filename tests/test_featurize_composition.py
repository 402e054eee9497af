"""The 118-element composition vector and its ablation modes (featurize/composition.py)."""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Composition

from pymatgen_crystalnet.featurize.composition import (
    N_ELEMENTS,
    as_composition,
    composition_vector,
    infer_mode,
)

H, OX, NA, CL, FE = 0, 7, 10, 16, 25  # indices = Z − 1 (OX: oxygen)


def test_full_fractions_h2o():
    v = composition_vector("H2O")
    assert v.shape == (N_ELEMENTS,) and v.dtype == np.float32
    assert v[H] == pytest.approx(2 / 3, abs=1e-6)
    assert v[OX] == pytest.approx(1 / 3, abs=1e-6)
    assert np.count_nonzero(v) == 2 and v.sum() == pytest.approx(1.0)


def test_full_other_inputs():
    fe2o3 = composition_vector(Composition("Fe2O3"))
    assert fe2o3[FE] == pytest.approx(0.4) and fe2o3[OX] == pytest.approx(0.6)
    assert np.array_equal(composition_vector({"Na": 1, "Cl": 1}), composition_vector("NaCl"))
    assert composition_vector("NaCl")[[NA, CL]].tolist() == [0.5, 0.5]
    og = composition_vector("Og")
    assert og[117] == 1.0  # the last element sits at the last index


def test_no_ratios_and_none():
    v = composition_vector("H2O", "no_ratios")
    assert v[H] == 1.0 and v[OX] == 1.0 and v.sum() == 2.0
    assert not np.any(composition_vector("H2O", "none"))
    assert not np.any(composition_vector(None, "none"))
    with pytest.raises(ValueError, match="needs a composition"):
        composition_vector(None, "full")


def test_drop_element_seeded():
    a = composition_vector("Fe2O3", "drop_element", rng=4)
    b = composition_vector("Fe2O3", "drop_element", rng=np.random.default_rng(4))
    assert np.array_equal(a, b)
    assert a.sum() == 1.0 and set(np.unique(a)) == {0.0, 1.0}
    dropped = {int(np.flatnonzero(composition_vector("NaCl", "drop_element", rng=s))[0]) for s in range(40)}
    assert dropped == {NA, CL}  # either element can be dropped
    quaternary = composition_vector("LiFePO4", "drop_element", rng=0)
    assert quaternary.sum() == 3.0


def test_drop_element_never_drops_a_lone_element():
    for seed in range(20):
        v = composition_vector("Fe", "drop_element", rng=seed)
        assert v[FE] == 1.0 and v.sum() == 1.0


def test_errors():
    with pytest.raises(ValueError, match="Xx"):
        composition_vector("Xx2O")
    with pytest.raises(ValueError, match="Unknown composition mode"):
        composition_vector("H2O", "half")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="empty"):
        as_composition({})
    with pytest.raises(ValueError, match="negative"):
        as_composition({"Fe": -1})


def test_infer_mode():
    assert infer_mode(None) == "none"
    assert infer_mode(["Na", "Cl"]) == "no_ratios"
    assert infer_mode("Na, Cl") == "no_ratios"
    assert infer_mode("Na Cl") == "no_ratios"
    assert infer_mode("NaCl") == "full"
    assert infer_mode(Composition("H2O")) == "full"
