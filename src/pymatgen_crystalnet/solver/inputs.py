"""Turning what a user hands the solver into the model's inputs.

A pattern may be a pymatgen ``DiffractionPattern`` (sticks at ``wavelength``, Mo Kα when not
given), a measured :class:`~pymatgen_crystalnet.io.patterns.PowderProfile`, a path to a profile
file (``.xy``, ``.xye``, ``.csv``, IUCr powder CIF, …), a pair of arrays ``(two_theta,
intensity)`` (a profile), or a ready 1024-vector on the Mo Kα axis. Every form becomes a
:class:`PreparedPattern`: the model's vector, the part of the Mo Kα axis the data cover, and the
peak positions at the measured wavelength (for indexing).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from pymatgen_crystalnet.featurize.xrd_vector import N_BINS, bin_centres, bin_index, sticks_to_vector
from pymatgen_crystalnet.physics.units import MO_KA, convert_two_theta, resolve_wavelength

__all__ = ["PreparedPattern", "prepare_pattern"]


@dataclass(frozen=True)
class PreparedPattern:
    """A pattern ready for the model and for verification.

    Attributes
    ----------
    vector
        (1024,) float32 model input on the Mo Kα axis, maximum 1.
    covered
        (1024,) bool: the bins of the Mo Kα axis the input data cover.
    wavelength
        Wavelength of the input (Å).
    peaks_two_theta, peaks_height
        Peak positions (degrees, at ``wavelength``) and heights, for indexing.
    position_tolerance
        Uncertainty of the peak positions (degrees 2θ at ``wavelength``).
    kind
        ``"sticks"``, ``"profile"`` or ``"vector"``.
    """

    vector: NDArray[np.float32]
    covered: NDArray[np.bool_]
    wavelength: float
    peaks_two_theta: NDArray[np.float64]
    peaks_height: NDArray[np.float64]
    position_tolerance: float
    kind: str


def _covered_bins(lo_mo: float, hi_mo: float) -> NDArray[np.bool_]:
    covered = np.zeros(N_BINS, dtype=bool)
    covered[bin_index(max(lo_mo, 0.0)) : bin_index(min(hi_mo, 180.0)) + 1] = True
    return covered


def _from_sticks(two_theta: NDArray, heights: NDArray, lam: float, lo: float, hi: float) -> PreparedPattern:
    mo = convert_two_theta(two_theta, lam, MO_KA)
    keep = np.isfinite(mo)
    if not np.any(keep):
        raise ValueError("No peak of the pattern falls on the Mo Kα axis (2θ ≤ 180°).")
    vector = sticks_to_vector(mo[keep], heights[keep])
    hi_mo = convert_two_theta(hi, lam, MO_KA)
    hi_mo = 180.0 if not np.isfinite(hi_mo) else float(hi_mo)
    lo_mo = float(convert_two_theta(lo, lam, MO_KA))
    return PreparedPattern(
        vector=vector,
        covered=_covered_bins(lo_mo, hi_mo),
        wavelength=lam,
        peaks_two_theta=two_theta[keep],
        peaks_height=heights[keep],
        position_tolerance=0.05,
        kind="sticks",
    )


def prepare_pattern(pattern: Any, wavelength: float | str | None = None) -> PreparedPattern:
    """Normalise any supported pattern input (see the module docstring).

    Raises
    ------
    ValueError
        For an unsupported type, a bad pattern, or a profile without a known wavelength.
    """
    from pymatgen.analysis.diffraction.core import DiffractionPattern

    from pymatgen_crystalnet.featurize.profile import profile_to_sticks
    from pymatgen_crystalnet.io.patterns import PowderProfile, read_profile

    if isinstance(pattern, DiffractionPattern):
        lam = MO_KA if wavelength is None else resolve_wavelength(wavelength)
        tt = np.asarray(pattern.x, dtype=float)
        heights = np.asarray(pattern.y, dtype=float)
        if tt.size == 0:
            raise ValueError("The pattern has no peaks.")
        return _from_sticks(tt, heights, lam, 0.0, 180.0)

    if isinstance(pattern, (str, os.PathLike)):
        path = Path(pattern)
        if not path.is_file():
            raise ValueError(f"Pattern file {path} does not exist.")
        pattern = read_profile(path, wavelength=wavelength)
    elif isinstance(pattern, tuple) and len(pattern) == 2:
        if wavelength is None:
            raise ValueError("A profile given as (two_theta, intensity) arrays needs wavelength=...")
        pattern = PowderProfile(
            np.asarray(pattern[0], float), np.asarray(pattern[1], float), resolve_wavelength(wavelength)
        )

    if isinstance(pattern, PowderProfile):
        lam_value = wavelength if wavelength is not None else pattern.wavelength
        if lam_value is None:
            raise ValueError(
                f"The wavelength of {pattern.source or 'the profile'} is unknown; pass wavelength=..."
            )
        lam = resolve_wavelength(lam_value)
        mo_tt, heights = profile_to_sticks(pattern, wavelength=lam)
        if len(mo_tt) == 0:
            raise ValueError("No peak was found in the profile.")
        vector = sticks_to_vector(mo_tt, heights)
        tt_src = convert_two_theta(mo_tt, MO_KA, lam)
        hi_mo = convert_two_theta(float(pattern.two_theta.max()), lam, MO_KA)
        hi_mo = 180.0 if not np.isfinite(hi_mo) else float(hi_mo)
        lo_mo = float(convert_two_theta(float(pattern.two_theta.min()), lam, MO_KA))
        step = float(np.median(np.diff(pattern.two_theta)))
        return PreparedPattern(
            vector=vector,
            covered=_covered_bins(lo_mo, hi_mo),
            wavelength=lam,
            peaks_two_theta=np.asarray(tt_src, dtype=float),
            peaks_height=np.asarray(heights, dtype=float),
            position_tolerance=max(0.05, 3 * step),
            kind="profile",
        )

    arr = np.asarray(pattern, dtype=float) if not isinstance(pattern, dict) else None
    if arr is not None and arr.shape == (N_BINS,):
        if wavelength is not None and not np.isclose(resolve_wavelength(wavelength), MO_KA):
            raise ValueError("A 1024-bin vector is always on the Mo Kα axis; do not pass another wavelength.")
        if not np.all(np.isfinite(arr)) or np.any(arr < 0) or arr.max() <= 0:
            raise ValueError("The XRD vector must be finite, non-negative and not all zero.")
        nz = np.nonzero(arr)[0]
        return PreparedPattern(
            vector=(arr / arr.max()).astype(np.float32),
            covered=np.ones(N_BINS, dtype=bool),
            wavelength=MO_KA,
            peaks_two_theta=bin_centres()[nz],
            peaks_height=arr[nz],
            position_tolerance=180.0 / N_BINS,
            kind="vector",
        )
    raise ValueError(
        f"Unsupported pattern input of type {type(pattern).__name__}: give a DiffractionPattern, a "
        "PowderProfile, a profile file path, (two_theta, intensity) arrays or a 1024-bin vector."
    )
