"""Fuzzing the solver's own inputs: only the documented ValueError subclasses may escape.

``prepare_pattern`` (stick arrays, 1024-vectors, wavelengths, 2θ ranges) and ``parse_lattice``
(matrices, six parameters, a cubic a) take whatever a user passes; each either returns a checked
object or raises a ``ValueError`` subclass naming the problem. A few hundred derandomized cases in
the default run; 10,000 of each under ``-m slow``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pymatgen_crystalnet.solver.inputs import PreparedPattern, prepare_pattern
from pymatgen_crystalnet.solver.lattice import parse_lattice

_FAST = settings(max_examples=200, deadline=None, derandomize=True, database=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
_SLOW = settings(max_examples=10_000, deadline=None, database=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

_num = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.floats(min_value=-5, max_value=200),
    st.integers(min_value=-10, max_value=10**6),
)
_wavelength = st.one_of(_num, st.sampled_from(["CuKa", "MoKa", "CuKa1", "Xx", "", "0.7", "-1"]), st.none())
_sticks = st.integers(min_value=0, max_value=40).flatmap(
    lambda n: st.tuples(st.lists(_num, min_size=n, max_size=n), st.lists(_num, min_size=n, max_size=n))
)
_vector = st.lists(_num, min_size=0, max_size=1100)
_range = st.one_of(st.none(), st.tuples(_num, _num))
_lattice = st.one_of(
    _num,
    st.lists(_num, min_size=6, max_size=6),
    st.lists(st.lists(_num, min_size=3, max_size=3), min_size=3, max_size=3),
    st.lists(_num, min_size=0, max_size=8),
    st.text(max_size=10),
)


def _prepare_or_refuse(pattern, wavelength, two_theta_range) -> None:
    try:
        prepared = prepare_pattern(pattern, wavelength, two_theta_range=two_theta_range)
    except ValueError as exc:
        assert str(exc)
        return
    assert isinstance(prepared, PreparedPattern)
    vector = np.asarray(prepared.vector)
    assert vector.shape == (1024,) and np.all(np.isfinite(vector)) and vector.min() >= 0
    assert math.isfinite(prepared.wavelength) and prepared.wavelength > 0


def _lattice_or_refuse(value) -> None:
    try:
        lattice = parse_lattice(value)
    except ValueError as exc:
        assert str(exc)
        return
    assert lattice.volume > 0 and np.all(np.isfinite(lattice.matrix))


@_FAST
@given(_sticks, _wavelength, _range)
def test_fuzz_stick_inputs(sticks, wavelength, two_theta_range):
    arrays = (np.asarray(sticks[0], float), np.asarray(sticks[1], float))
    _prepare_or_refuse(arrays, wavelength, two_theta_range)


@_FAST
@given(_vector)
def test_fuzz_vector_inputs(vector):
    _prepare_or_refuse(np.asarray(vector, float), None, None)


@_FAST
@given(_lattice)
def test_fuzz_lattice_inputs(value):
    _lattice_or_refuse(value)


@pytest.mark.slow
@_SLOW
@given(_sticks, _wavelength, _range)
def test_fuzz_stick_inputs_many(sticks, wavelength, two_theta_range):
    arrays = (np.asarray(sticks[0], float), np.asarray(sticks[1], float))
    _prepare_or_refuse(arrays, wavelength, two_theta_range)


@pytest.mark.slow
@_SLOW
@given(_lattice)
def test_fuzz_lattice_inputs_many(value):
    _lattice_or_refuse(value)
