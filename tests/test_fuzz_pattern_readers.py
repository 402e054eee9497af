"""Fuzzing: only the documented error types escape the pattern readers and the composition input.

The default run tries a few hundred derandomized cases (stable in CI); the ``slow`` tests try
more than 10,000 pattern files and several thousand compositions and profiles.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pymatgen.core import Composition

from fuzz_strategies import composition_input, pattern_file
from pymatgen_crystalnet.featurize.composition import CompositionError, parse_composition
from pymatgen_crystalnet.featurize.profile import profile_to_vector
from pymatgen_crystalnet.featurize.xrd_vector import sticks_to_vector
from pymatgen_crystalnet.io.patterns import PatternFileError, PowderProfile, read_profile

_FAST = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
_SLOW = settings(max_examples=10_500, deadline=None, database=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

_DIR = Path(tempfile.mkdtemp(prefix="crystalnet-fuzz-"))


@pytest.fixture(autouse=True)
def _quiet_readers():
    logging.disable(logging.WARNING)
    yield
    logging.disable(logging.NOTSET)


def _read_or_refuse(content: bytes, suffix: str) -> None:
    """Read a fuzzed file: a valid profile comes back, or PatternFileError naming the file."""
    path = _DIR / f"fuzz-{os.getpid()}{suffix}"
    path.write_bytes(content)
    try:
        profile = read_profile(path)
    except PatternFileError as exc:
        assert str(path) in str(exc) and exc.path == str(path)
        return
    assert isinstance(profile, PowderProfile)
    tt = profile.two_theta
    assert np.all(np.isfinite(tt)) and tt.min() > 0 and tt.max() < 180 and np.all(np.diff(tt) > 0)
    assert np.all(np.isfinite(profile.intensity)) and profile.intensity.min() >= 0
    assert profile.wavelength is None or (np.isfinite(profile.wavelength) and profile.wavelength > 0)


def _compose_or_refuse(value: object) -> None:
    try:
        comp = parse_composition(value)
    except CompositionError:
        return
    assert isinstance(comp, Composition) and len(comp) > 0
    for el, amount in comp.items():
        assert 1 <= el.Z <= 98 and np.isfinite(amount) and amount > 0


def _vector_or_refuse(tt: list[float], y: list[float], wavelength: float) -> None:
    """The solver's profile path: a profile built from arrays, then the 1024-bin vector."""
    try:
        profile = PowderProfile(np.array(tt), np.array(y), wavelength)
        vec = profile_to_vector(profile)
    except ValueError:
        return
    assert vec.shape == (1024,) and np.all(np.isfinite(vec)) and vec.max() <= 1.0


_floats = st.floats(allow_nan=True, allow_infinity=True, width=64)
_profiles = st.tuples(
    st.lists(st.one_of(st.floats(0.01, 179.9), _floats), max_size=40),
    st.lists(st.one_of(st.floats(0, 1e6), _floats), max_size=40),
    st.one_of(st.floats(0.05, 5.0), st.sampled_from([0.71073, 1.5406, 1e-300, 1e300])),
)


@_FAST
@given(pattern_file())
def test_fuzz_pattern_files(case):
    _read_or_refuse(*case)


@_FAST
@given(composition_input())
def test_fuzz_compositions(value):
    _compose_or_refuse(value)


@settings(_FAST, max_examples=60)
@given(_profiles)
def test_fuzz_profile_to_vector(case):
    _vector_or_refuse(*case)


@settings(_FAST, max_examples=100)
@given(st.lists(_floats, max_size=30), st.lists(_floats, max_size=30))
def test_fuzz_sticks_to_vector(tt, heights):
    try:
        vec = sticks_to_vector(np.array(tt), np.array(heights))
    except ValueError:
        return
    assert vec.shape == (1024,) and np.all(np.isfinite(vec))


@pytest.mark.slow
@_SLOW
@given(pattern_file())
def test_fuzz_pattern_files_slow(case):
    _read_or_refuse(*case)


@pytest.mark.slow
@settings(_SLOW, max_examples=3000)
@given(composition_input())
def test_fuzz_compositions_slow(value):
    _compose_or_refuse(value)


@pytest.mark.slow
@settings(_SLOW, max_examples=1500)
@given(_profiles)
def test_fuzz_profile_to_vector_slow(case):
    _vector_or_refuse(*case)
