"""The PowderProfile type (physics/powder_profile.py): validation, immutability, helpers."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from pymatgen_crystalnet.physics.powder_profile import PowderProfile


def test_profile_is_immutable():
    prof = PowderProfile([7.0, 7.02, 7.04], [1.0, 5.0, 2.0], 0.49935)
    with pytest.raises(dataclasses.FrozenInstanceError):
        prof.wavelength = 1.0  # type: ignore[misc]
    with pytest.raises(ValueError):
        prof.intensity[0] = 5.0


def test_profile_constructor_checks():
    prof = PowderProfile([1.0, 2.0, 3.0], [0.0, 1.0, 0.5], "CuKa", [1, 1, 1], "arrays")
    assert prof.wavelength == 1.54184 and prof.sigma.dtype == np.float64
    with pytest.raises(ValueError, match="differ in length"):
        PowderProfile([1.0, 2.0, 3.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="negative intensities"):
        PowderProfile([1.0, 2.0, 3.0], [1.0, -2.0, 1.0])
    with pytest.raises(ValueError, match="sigma must be finite"):
        PowderProfile([1.0, 2.0, 3.0], [1.0, 2.0, 1.0], sigma=[1.0, np.nan, 1.0])
    with pytest.raises(ValueError, match="Wavelength must be"):
        PowderProfile([1.0, 2.0, 3.0], [1.0, 2.0, 1.0], wavelength=-1.0)


def test_profile_step_length_and_with_wavelength():
    prof = PowderProfile([10.0, 10.5, 11.0, 11.5], [1.0, 2.0, 1.0, 0.5], source="hand")
    assert len(prof) == 4 and prof.step == pytest.approx(0.5) and prof.wavelength is None
    moved = prof.with_wavelength("MoKa1")
    assert moved.wavelength == 0.7093 and moved.source == "hand"
    assert np.array_equal(moved.intensity, prof.intensity)
