"""Composition input: one CompositionError (a ValueError) naming the problem (issue 16)."""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Composition, Element

from pymatgen_crystalnet.featurize.composition import (
    CompositionError,
    as_composition,
    composition_vector,
    parse_composition,
)
from pymatgen_crystalnet.physics.form_factors import has_form_factor


@pytest.mark.parametrize(
    ("given", "match"),
    [
        ("Ba0O", "amount of Ba is zero or rounds to zero"),  # pymatgen drops the Ba silently
        ("Ba0.0O", "amount of Ba is zero"),
        ("Ba1e-400O", "amount of Ba is zero"),
        ("Ca(PO4)0", "amount of P is zero"),
        ("Ba1e400O", "amount of Ba is inf"),
        ({"Ba": float("nan"), "O": 1}, "amount of Ba is nan"),
        ({"Ba": float("inf"), "O": 1}, "amount of Ba is inf"),
        ({"Ba": -1, "O": 1}, "amount of Ba is negative"),
        ({"Ba": 0, "O": 1}, "amount of Ba is zero"),
        ({"Ba": "x"}, "amount of Ba is 'x', not a number"),
        ("Ba-1O", "not a chemical formula"),
        ("XxO", "unknown element 'Xx'"),
        ({"Xx": 1}, "unknown element 'Xx'"),
        (["Na", "Q"], "unknown element 'Q'"),
        ("Es", r"Es \(Z = 99\) has no X-ray form-factor data"),
        ("Og2O", r"Og \(Z = 118\) has no X-ray form-factor data"),
        ("Na Es", "Es .* no X-ray form-factor data"),
        ("", "empty"),
        ("   ", "empty"),
        ({}, "empty"),
        (None, "no composition given"),
        (5, "expected a formula"),
    ],
)
def test_refused_with_one_clear_error(given, match):
    with pytest.raises(CompositionError, match=match) as info:
        parse_composition(given)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("given", "formula"),
    [
        ("BaO", "Ba1 O1"),
        ("Ca3(PO4)2", "Ca3 P2 O8"),
        ("Na Cl", "Na1 Cl1"),
        ("Na,Cl", "Na1 Cl1"),
        (["Na", "Cl"], "Na1 Cl1"),
        ({"Sr": 1, "Ti": 1, "O": 3}, "Sr1 Ti1 O3"),
        ({Element("Fe"): 2, "O": 3}, "Fe2 O3"),
        (Composition("Mg2Si"), "Mg2 Si1"),
        ("BaNaNO", "Ba1 Na1 N1 O1"),  # NaN here is sodium and nitrogen
        ("Cf2O3", "Cf2 O3"),  # Z = 98, the last element with form factors
    ],
)
def test_accepted(given, formula):
    assert parse_composition(given).formula == formula


def test_form_factor_check_can_be_left_out():
    assert parse_composition("Es", require_form_factors=False).formula == "Es1"
    assert composition_vector("Og")[117] == 1.0  # the model's vector covers all 118 elements
    with pytest.raises(CompositionError, match="amount of Ba is zero"):
        composition_vector("Ba0O")  # but never drops an element silently
    with pytest.raises(ValueError, match="nan"):
        as_composition({"Ba": float("nan"), "O": 1})


def test_has_form_factor():
    assert [has_form_factor(z) for z in (0, 1, 56, 98, 99, 118)] == [False, True, True, True, False, False]
    assert np.all([has_form_factor(z) for z in range(1, 99)])
