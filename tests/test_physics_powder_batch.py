"""batch_sticks equals pymatgen's XRDCalculator, reflection for reflection, for many trials at once."""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.analysis.diffraction.xrd import XRDCalculator
from pymatgen.core import Lattice, Structure
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from lit_crystals import calcite, corundum, nacl, srtio3
from pymatgen_crystalnet.physics.powder import xrd_pattern
from pymatgen_crystalnet.physics.powder_batch import batch_sticks
from pymatgen_crystalnet.physics.reflections import enumerate_reflections


def _triclinic() -> Structure:
    rng = np.random.default_rng(3)
    lat = Lattice.from_parameters(4.1, 5.3, 6.2, 81, 97, 103)
    return Structure(lat, ["Si", "O", "O", "Fe", "Ba"], rng.random((5, 3)))


def _reference(structure, dw, two_theta_range, wavelength="MoKa", scaled=True):
    if dw is not None and not isinstance(dw, dict):
        dw = {el.symbol: dw for el in structure.composition.elements}
    calc = XRDCalculator(wavelength=wavelength, debye_waller_factors=dw)
    return calc.get_pattern(structure, scaled=scaled, two_theta_range=two_theta_range)


def _assert_same(tt, intensities, pattern):
    kept = intensities > 0
    assert kept.sum() == len(pattern.x)
    np.testing.assert_allclose(tt[kept], pattern.x, rtol=0, atol=1e-6)
    scale = max(1.0, float(np.max(pattern.y)))
    np.testing.assert_allclose(intensities[kept] / scale, np.asarray(pattern.y) / scale, rtol=0, atol=1e-6)


@pytest.mark.parametrize("make", [nacl, srtio3, corundum, calcite, _triclinic])
@pytest.mark.parametrize("dw", [None, 0.8, {"O": 1.3}])
def test_equals_xrdcalculator(make, dw):
    structure = make()
    rng = (5.0, 70.0)
    ref = _reference(structure, dw, rng)
    tt, intensities = batch_sticks(
        structure.lattice, structure.species, structure.frac_coords, "MoKa", rng, dw
    )
    assert intensities.shape == (1, len(tt))
    _assert_same(tt, intensities[0], ref)


def test_many_trials_at_once_and_unscaled():
    base = corundum()
    rng = np.random.default_rng(0)
    trials = (base.frac_coords[None] + rng.normal(0, 0.02, (6, len(base), 3))) % 1
    tt, scaled = batch_sticks(base.lattice, base.species, trials, "CuKa", (10, 120), debye_waller_b=0.5)
    _, raw = batch_sticks(base.lattice, base.species, trials, 1.54184, (10, 120), 0.5, scaled=False)
    assert scaled.shape == raw.shape == (6, len(tt))
    for t in range(6):
        trial = Structure(base.lattice, base.species, trials[t])
        _assert_same(tt, scaled[t], _reference(trial, 0.5, (10, 120), "CuKa"))
        ref_raw = _reference(trial, 0.5, (10, 120), "CuKa", scaled=False)
        kept = raw[t] > 0
        np.testing.assert_allclose(raw[t][kept], ref_raw.y, rtol=1e-10)
    assert np.allclose(scaled.max(axis=1), 100)
    # distinct trials really have distinct patterns
    assert np.abs(scaled[0] - scaled[1]).max() > 0.1


def test_full_range_on_conventional_cell_equals_project_pattern():
    """The project's xrd_pattern (conventional cell, 0–180°, B for every element)."""
    structure = calcite()
    conv = SpacegroupAnalyzer(structure, symprec=0.1).get_conventional_standard_structure()
    ref = xrd_pattern(structure, b_factor=0.6)
    tt, intensities = batch_sticks(conv.lattice, conv.species, conv.frac_coords, debye_waller_b=0.6)
    _assert_same(tt, intensities[0], ref)


def test_systematic_absences_are_zero_columns():
    structure = nacl()
    tt, intensities = batch_sticks(structure.lattice, structure.species, structure.frac_coords)
    hkl_100 = 2 * np.degrees(np.arcsin(0.71073 / (2 * 5.6402)))  # (100) is absent for F centring
    col = np.argmin(np.abs(tt - hkl_100))
    assert abs(tt[col] - hkl_100) < 1e-9
    assert intensities[0, col] == 0.0


def test_reflection_groups_are_contiguous():
    refl = enumerate_reflections(corundum().lattice.matrix, 0.71073, (0, 180))
    assert np.all(np.diff(refl.group) >= 0)
    assert np.all(np.diff(refl.g) >= 0)
    assert refl.group[refl.starts].tolist() == list(range(len(refl.starts)))


def test_bad_inputs():
    s = nacl()
    with pytest.raises(ValueError, match="shape"):
        batch_sticks(s.lattice, s.species[:-1], s.frac_coords)
    with pytest.raises(ValueError, match="shape"):
        batch_sticks(s.lattice, s.species, s.frac_coords[:, :2])
    with pytest.raises(ValueError, match="finite"):
        batch_sticks(s.lattice, s.species, np.full((len(s), 3), np.nan))
    with pytest.raises(ValueError, match="not an element"):
        batch_sticks(s.lattice, ["Xx"] * len(s), s.frac_coords)
    with pytest.raises(ValueError, match="Debye"):
        batch_sticks(s.lattice, s.species, s.frac_coords, debye_waller_b=-1.0)
    with pytest.raises(ValueError, match="two_theta_range"):
        batch_sticks(s.lattice, s.species, s.frac_coords, two_theta_range=(50, 10))
    with pytest.raises(ValueError, match=r"[Ww]avelength"):
        batch_sticks(s.lattice, s.species, s.frac_coords, wavelength="XyKa")
    with pytest.raises(ValueError, match="No reflection"):
        batch_sticks(s.lattice, s.species, s.frac_coords, two_theta_range=(0, 1))
    with pytest.raises(ValueError, match="non-singular"):
        batch_sticks(np.zeros((3, 3)), s.species, s.frac_coords)
