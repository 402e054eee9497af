"""Peak lists for indexing from what users have: pymatgen stick patterns and measured profiles.

A measured laboratory profile taken with a Kα doublet shows each reflection twice at high
angles (Kα1 and, at about half the height, Kα2 at ``sin θ₂ = sin θ₁ · λ₂/λ₁``), and as one
blended peak at low angles. :func:`peaks_from_profile` picks peaks with the project's
profile → sticks path (:func:`pymatgen_crystalnet.featurize.profile.profile_to_sticks`, SNIP
background, prominence and noise thresholds), then, for Cu, Mo, Co, Fe, Cr and Ag Kα data:

- a peak with a partner where Kα2 of it should lie (within a quarter of the doublet
  separation) at 25–80 % of its height is a resolved doublet: the partner is dropped and
  the peak is taken as Kα1;
- a peak without a partner whose doublet separation is below its FWHM is a blend: its
  position is moved from the mean Kα wavelength onto the Kα1 scale;
- all positions are returned on the Kα1 scale, with ``wavelength = λ(Kα1)``.

With ``ka2="auto"`` this happens only if at least two resolved doublets are found (a
monochromated Kα1 pattern, or a Kα pattern of broad peaks, is left as it is).
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import NDArray
from scipy.signal import peak_widths

from pymatgen_crystalnet.featurize.profile import profile_to_sticks, snip_background
from pymatgen_crystalnet.physics.units import MO_KA, convert_two_theta, kalpha_lines, resolve_wavelength

if TYPE_CHECKING:
    from pymatgen.analysis.diffraction.core import DiffractionPattern

    from pymatgen_crystalnet.io.patterns import PowderProfile

__all__ = ["PeakList", "ka_doublet", "peaks_from_pattern", "peaks_from_profile"]

logger = logging.getLogger(__name__)

Ka2Mode = Literal["auto", "strip", "none"]


@dataclass(frozen=True)
class PeakList:
    """Peak positions for indexing.

    Attributes
    ----------
    two_theta
        Positions in degrees, increasing.
    intensity
        Heights (any scale) or None.
    wavelength
        Wavelength (Å) at which ``two_theta`` hold.
    sigma
        Position uncertainties (degrees) or None.
    notes
        What was done to the peaks (Kα2 stripping …), for the record.
    """

    two_theta: NDArray[np.float64]
    intensity: NDArray[np.float64] | None
    wavelength: float
    sigma: NDArray[np.float64] | None = None
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.two_theta.size)


def ka_doublet(wavelength: float, tol: float = 5e-4) -> tuple[float, float, float] | None:
    """``(λ_Kα, λ_Kα1, λ_Kα2)`` of the anode whose Kα or Kα1 line ``wavelength`` is, else None.

    (:func:`~pymatgen_crystalnet.physics.units.kalpha_lines`, as a tuple.)
    """
    lines = kalpha_lines(wavelength, tol)
    return None if lines is None else (lines.ka, lines.ka1, lines.ka2)


def peaks_from_pattern(
    pattern: DiffractionPattern,
    wavelength: float | str,
    *,
    min_intensity: float = 1.0,
    merge_deg: float = 0.02,
    max_lines: int | None = 30,
) -> PeakList:
    """Peaks from the sticks of a pymatgen ``DiffractionPattern``.

    Parameters
    ----------
    pattern
        Sticks (``pattern.x`` 2θ in degrees, ``pattern.y`` intensities).
    wavelength
        The wavelength the pattern was computed at (``XRDCalculator.wavelength``), Å or name.
    min_intensity
        Drop sticks weaker than this percentage of the strongest (unobservable lines).
    merge_deg
        Merge sticks closer than this (degrees) into their intensity-weighted mean.
    max_lines
        Keep the first lines only (indexing uses the low-angle end).
    """
    lam = resolve_wavelength(wavelength)
    x = np.asarray(pattern.x, dtype=float)
    y = np.asarray(pattern.y, dtype=float)
    order = np.argsort(x)
    x, y = x[order], y[order]
    keep = y >= min_intensity / 100.0 * y.max()
    x, y = x[keep], y[keep]
    pos, hts = [x[0]], [y[0]]
    for xi, yi in zip(x[1:], y[1:], strict=True):
        if xi - pos[-1] < merge_deg:
            w = hts[-1] + yi
            pos[-1] = (pos[-1] * hts[-1] + xi * yi) / w
            hts[-1] = w
        else:
            pos.append(xi)
            hts.append(yi)
    tt, h = np.array(pos), np.array(hts)
    if max_lines is not None:
        tt, h = tt[:max_lines], h[:max_lines]
    return PeakList(two_theta=tt, intensity=h, wavelength=lam)


def _fwhm(profile: PowderProfile, positions: NDArray[np.float64]) -> NDArray[np.float64]:
    tt = np.asarray(profile.two_theta, dtype=float)
    y = np.asarray(profile.intensity, dtype=float)
    net = np.maximum(y - snip_background(tt, y), 0.0)
    idx = np.clip(np.searchsorted(tt, positions), 0, tt.size - 1)
    for k in range(idx.size):  # onto the local maximum of the net profile
        lo, hi = max(0, idx[k] - 3), min(tt.size, idx[k] + 4)
        idx[k] = lo + int(np.argmax(net[lo:hi]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # flat maxima: width 0, treated as resolved
        widths = peak_widths(net, idx, rel_height=0.5)[0]
    return widths * float(np.median(np.diff(tt)))


def peaks_from_profile(
    profile: PowderProfile,
    wavelength: float | str | None = None,
    *,
    ka2: Ka2Mode = "auto",
    max_lines: int | None = 30,
    **sticks_kwargs: Any,
) -> PeakList:
    """Peaks of a measured profile, with the Kα2 component handled (module docstring).

    Parameters
    ----------
    profile
        The measured profile.
    wavelength
        Its wavelength (Å or name); default ``profile.wavelength``.
    ka2
        ``"auto"`` (default), ``"strip"`` (always treat as a Kα doublet when the wavelength is
        a known anode's Kα or Kα1) or ``"none"``.
    max_lines
        Keep the first lines only.
    **sticks_kwargs
        Passed to :func:`~pymatgen_crystalnet.featurize.profile.profile_to_sticks`
        (``prominence``, ``noise_threshold``, ``snip_window_deg``, ``background``).

    Raises
    ------
    ValueError
        If the wavelength is unknown or no peak is found.
    """
    if ka2 not in ("auto", "strip", "none"):
        raise ValueError(f"ka2 must be 'auto', 'strip' or 'none', got {ka2!r}.")
    if wavelength is None and profile.wavelength is None:
        raise ValueError("The profile's wavelength is unknown; pass wavelength= (Å or a name).")
    lam = resolve_wavelength(wavelength if wavelength is not None else profile.wavelength)
    mo_tt, heights = profile_to_sticks(profile, wavelength=lam, lp_correction=False, **sticks_kwargs)
    tt = convert_two_theta(mo_tt, MO_KA, lam)
    order = np.argsort(tt)
    tt, heights = tt[order], heights[order]
    notes: list[str] = []
    doublet = ka_doublet(lam) if ka2 != "none" else None
    if doublet is not None:
        lam_mean, lam1, lam2 = doublet
        # positions measured at λ are α1 positions if the data are Kα1 (λ = λ1) ...
        s = np.sin(np.radians(tt) / 2)
        t2 = 2 * np.degrees(np.arcsin(np.clip(s * lam2 / lam1, 0, 1)))
        split = t2 - tt
        partner = np.full(tt.size, -1)
        for i in range(tt.size):
            j = np.flatnonzero(
                (np.abs(tt - t2[i]) <= max(0.25 * split[i], 0.01))
                & (heights >= 0.25 * heights[i])
                & (heights <= 0.8 * heights[i])
            )
            if j.size:
                partner[i] = j[np.argmin(np.abs(tt[j] - t2[i]))]
        n_pairs = int(np.count_nonzero(partner >= 0))
        if ka2 == "strip" or n_pairs >= 2:
            fwhm = _fwhm(profile, tt)
            is_alpha2 = np.zeros(tt.size, dtype=bool)
            is_alpha2[partner[partner >= 0]] = True
            blended = (partner < 0) & ~is_alpha2 & (split < fwhm)
            new = tt.copy()
            # a blend sits near the mean Kα wavelength; a resolved peak is Kα1 already
            new[blended] = 2 * np.degrees(np.arcsin(np.clip(s[blended] * lam1 / lam_mean, 0, 1)))
            keep = ~is_alpha2
            tt, heights = new[keep], heights[keep]
            lam = lam1
            notes.append(
                f"Kα2: {n_pairs} resolved doublets stripped, {int(blended.sum())} blends moved to Kα1"
            )
            order = np.argsort(tt)
            tt, heights = tt[order], heights[order]
    if tt.size == 0:
        raise ValueError("No peaks found in the profile.")
    if max_lines is not None:
        tt, heights = tt[:max_lines], heights[:max_lines]
    return PeakList(two_theta=tt, intensity=heights, wavelength=lam, notes=notes)
