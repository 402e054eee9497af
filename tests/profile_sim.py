"""Simulated powder profiles for the profile-fit tests, written independently of the torch model.

Intensities: ``physics.powder_batch.batch_sticks`` (pymatgen's physics, numpy). Peaks: an
area-normalised pseudo-Voigt of Caglioti width, a Kα2 copy at ``sin θ₂ = (λ₂/λ₁) sin θ₁``, a
smooth background and Poisson counting noise, all in plain numpy below.
"""

from __future__ import annotations

import numpy as np

from pymatgen_crystalnet.physics.powder_batch import batch_sticks
from pymatgen_crystalnet.physics.powder_profile import PowderProfile

CU_KA1, CU_KA2 = 1.54056, 1.54439
TRUTH = {"U": 0.012, "V": -0.006, "W": 0.005, "eta": 0.4, "zero": 0.015, "ratio": 0.5}


def pseudo_voigt(x: np.ndarray, fwhm: np.ndarray, eta: float) -> np.ndarray:
    """Area-normalised pseudo-Voigt (degrees⁻¹)."""
    u = (x / fwhm) ** 2
    gauss = 2 * np.sqrt(np.log(2) / np.pi) / fwhm * np.exp(-4 * np.log(2) * u)
    lorentz = 2 / (np.pi * fwhm) / (1 + 4 * u)
    return eta * lorentz + (1 - eta) * gauss


def simulate(structure, *, doublet: bool = True, lo: float = 20.0, hi: float = 100.0, step: float = 0.02,
             b_factor: float = 0.5, peak_counts: float = 2e4, seed: int = 0, wavelength: float = CU_KA1,
             **shape: float):  # fmt: skip
    """A Cu Kα profile of ``structure`` with Poisson noise; returns (profile, truth dict).

    ``wavelength`` is the (Kα1) line; with ``doublet`` a Kα2 line follows at ``λ · Kα2/Kα1``.
    """
    truth = {**TRUTH, **shape}
    tt = np.arange(lo, hi, step)
    species = [s.specie.symbol for s in structure]
    pos, inten = batch_sticks(structure.lattice, species, structure.frac_coords, wavelength, (lo - 2, hi + 1),
                              debye_waller_b=b_factor, scaled=False)  # fmt: skip
    inten = inten[0]
    theta = np.radians(pos / 2)
    t = np.tan(theta)
    fwhm = np.sqrt(truth["U"] * t * t + truth["V"] * t + truth["W"])
    lines = [(pos, 1.0)]
    if doublet:
        lines.append((2 * np.degrees(np.arcsin(np.sin(theta) * CU_KA2 / CU_KA1)), truth["ratio"]))
    peaks = np.zeros_like(tt)
    for centres, weight in lines:
        x = tt[:, None] - centres[None, :] - truth["zero"]
        peaks += weight * (pseudo_voigt(x, fwhm[None, :], truth["eta"]) * inten[None, :]).sum(axis=1)
    scale = peak_counts / peaks.max()
    background = 150 + 60 * np.exp(-(tt - lo) / 15)
    expected = scale * peaks + background
    counts = np.random.default_rng(seed).poisson(expected).astype(float)
    truth.update(scale=scale, two_theta=pos, intensity=inten, expected=expected)
    return PowderProfile(tt, counts, wavelength, source="simulated"), truth
