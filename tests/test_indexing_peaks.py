"""Peak lists from stick patterns and measured profiles (Kα2 stripped)."""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.analysis.diffraction.xrd import XRDCalculator
from pymatgen.core import Lattice, Structure

from pymatgen_crystalnet.indexing import peaks_from_pattern
from pymatgen_crystalnet.indexing.peaks import ka_doublet, peaks_from_profile
from pymatgen_crystalnet.io.patterns import PowderProfile


def test_peaks_from_pattern_merges_and_filters() -> None:
    s = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5] * 3])
    pat = XRDCalculator("CuKa").get_pattern(s)
    peaks = peaks_from_pattern(pat, "CuKa", min_intensity=1.0, max_lines=8)
    assert len(peaks) == 8
    assert np.all(np.diff(peaks.two_theta) > 0.02)
    assert peaks.wavelength == pytest.approx(1.54184)


def _doublet_profile(positions_a1: list[float], height: float = 1000.0) -> PowderProfile:
    lam1, lam2 = 1.54056, 1.54439
    tt = np.arange(20.0, 120.0, 0.01)
    y = np.full(tt.size, 20.0)
    for p in positions_a1:
        p2 = 2 * np.degrees(np.arcsin(np.sin(np.radians(p) / 2) * lam2 / lam1))
        for pos, h in ((p, height), (p2, height / 2)):
            y += h / (1 + ((tt - pos) / 0.04) ** 2)
    return PowderProfile(two_theta=tt, intensity=y, wavelength=1.54184)


def test_ka2_doublets_are_stripped() -> None:
    assert ka_doublet(1.54184) == (1.54184, 1.54056, 1.54439)
    assert ka_doublet(0.5) is None
    pos = [30.0, 45.0, 70.0, 95.0, 110.0]
    peaks = peaks_from_profile(_doublet_profile(pos), noise_threshold=0)
    assert peaks.wavelength == pytest.approx(1.54056)
    assert len(peaks) == 5
    # resolved doublets (high angles) keep their Kα1 position
    assert peaks.two_theta[-3:] == pytest.approx(pos[-3:], abs=0.01)
    none = peaks_from_profile(_doublet_profile(pos), ka2="none", noise_threshold=0)
    assert len(none) > 5

