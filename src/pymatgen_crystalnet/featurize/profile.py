"""A measured (or simulated) powder profile → the model's 1024-bin Mo Kα peak vector.

The model was trained on *stick* patterns: pymatgen ``XRDCalculator`` peak heights at Mo Kα
(0.71073 Å) binned over 2θ ∈ [0°, 180°] (docs/science.md, 'The XRD vector'). A measured
profile differs in four ways, each handled by one step of :func:`profile_to_sticks`:

1. **Background.** Removed with SNIP (statistics-sensitive non-linear iterative peak
   clipping, :func:`snip_background`), or a background given by the caller, or none.
2. **Peaks, not profile.** Reduced to one height per peak (``method="peaks"``: local maxima
   of the background-subtracted profile found with ``scipy.signal.find_peaks``, kept if
   their prominence is at least ``prominence × max``; each contributes its height at its
   position, refined to sub-step precision by a parabola through the top three points), or
   to the maximum of the background-subtracted profile in each bin (``method="bin_max"``:
   no peak picking, so shoulders and noise above the background also show up).
3. **Wavelength.** Each position is mapped onto the Mo Kα axis through its d-spacing
   (Bragg's law, :func:`pymatgen_crystalnet.physics.units.convert_two_theta`). Angles whose
   d-spacing is shorter than λ_Mo/2 would lie beyond 180° and are dropped; the part of the
   Mo axis that the measurement does not reach stays 0.
4. **Lorentz–polarisation.** ``XRDCalculator`` multiplies every peak by
   ``LP(θ) = (1 + cos² 2θ) / (sin² θ cos θ)`` at the *Mo* angle, so a training pattern
   carries LP at Mo angles. The measured peak carries LP at its own angle. With
   ``lp_correction=True`` (default) each height is multiplied by ``LP(θ_Mo) / LP(θ_src)``,
   which makes peaks of a pattern measured at any wavelength scale like the training data.
   (The unpolarised-beam formula is used for both; a synchrotron beam's polarisation differs,
   which this does not model.)

Heights are then binned with :func:`pymatgen_crystalnet.featurize.xrd_vector.sticks_to_vector`
(largest height per bin, scaled so the largest is 1).

Peak heights of a profile are proportional to integrated intensities only where the peak
width is constant; real peaks broaden with angle, so high-angle peaks of a measured pattern
come out weaker than the sticks of the same structure. Kα2 shoulders of laboratory data are
not stripped; at high angles they can appear as separate weaker peaks.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.ndimage import uniform_filter1d
from scipy.signal import find_peaks

from pymatgen_crystalnet.featurize.xrd_vector import sticks_to_vector
from pymatgen_crystalnet.physics.agreement import simulate_profile
from pymatgen_crystalnet.physics.powder import lorentz_polarisation
from pymatgen_crystalnet.physics.units import MO_KA, convert_two_theta, resolve_wavelength

if TYPE_CHECKING:
    from pymatgen_crystalnet.io.patterns import PowderProfile

__all__ = [
    "estimate_noise",
    "lorentz_polarisation",
    "profile_to_sticks",
    "profile_to_vector",
    "simulate_profile",
    "snip_background",
]

logger = logging.getLogger(__name__)

ReductionMethod = Literal["peaks", "bin_max"]
BackgroundMethod = Literal["snip", "none"]


def snip_background(
    two_theta: ArrayLike,
    intensity: ArrayLike,
    window_deg: float = 1.0,
    *,
    smooth_deg: float = 0.2,
    lls: bool = True,
) -> NDArray[np.float64]:
    """Estimate a smooth background by SNIP (statistics-sensitive non-linear peak clipping).

    For ``p = 1 … m`` every point is replaced by the smaller of itself and the mean of its
    neighbours ``p`` points away, ``v_i ← min(v_i, (v_{i−p} + v_{i+p}) / 2)``; points closer
    than ``p`` to either end are left as they are. Peaks narrower than the window are
    clipped away, the slowly varying background survives. With ``lls`` the clipping runs on
    ``log(log(√(y + 1) + 1) + 1)`` (the LLS operator), which compresses the dynamic range
    so weak peaks on a low background are clipped as well as strong ones; the result is
    transformed back.

    Clipping follows the lower envelope of counting noise, so on noisy data plain SNIP sits
    about two standard deviations below the true background. The profile is therefore
    smoothed first with a moving average ``smooth_deg`` wide (only to estimate the
    background; peaks are removed by the clipping anyway), which brings the bias down to
    well under one standard deviation for a smooth background.

    Parameters
    ----------
    two_theta
        2θ in degrees (increasing), shape ``(n,)``; only its median step is used.
    intensity
        The profile, shape ``(n,)``, non-negative.
    window_deg
        Half-width of the largest clipping window in degrees of 2θ; ``m`` is this over the
        median step. Take it a few times the peak FWHM (wider than a peak's foot).
    smooth_deg
        Width in degrees of the moving average applied before clipping; 0 turns it off.
    lls
        Apply the LLS operator (default).

    Returns
    -------
    numpy.ndarray
        The background, shape ``(n,)``, never above the profile.

    Raises
    ------
    ValueError
        On mismatched lengths, fewer than 3 points, NaN, negative intensities or a
        non-positive window.
    """
    tt = np.asarray(two_theta, dtype=np.float64).ravel()
    y = np.asarray(intensity, dtype=np.float64).ravel()
    if tt.shape != y.shape:
        raise ValueError(f"2θ and intensity differ in length ({tt.size} vs {y.size}).")
    if y.size < 3:
        raise ValueError("SNIP needs at least 3 points.")
    if not (np.all(np.isfinite(tt)) and np.all(np.isfinite(y))):
        raise ValueError("2θ or intensity contain NaN or infinite values.")
    if np.any(y < 0):
        raise ValueError("SNIP needs non-negative intensities.")
    if not np.isfinite(window_deg) or window_deg <= 0:
        raise ValueError(f"window_deg must be positive, got {window_deg}.")
    if not np.isfinite(smooth_deg) or smooth_deg < 0:
        raise ValueError(f"smooth_deg must be non-negative, got {smooth_deg}.")
    step = float(np.median(np.diff(tt)))
    if step <= 0:
        raise ValueError("2θ must be increasing.")
    n = y.size
    m = int(min(max(1, round(window_deg / step)), (n - 1) // 2))
    width = round(smooth_deg / step)
    ys = uniform_filter1d(y, width, mode="nearest") if width > 1 else y
    v = np.log(np.log(np.sqrt(ys + 1.0) + 1.0) + 1.0) if lls else ys.copy()
    for p in range(1, m + 1):  # each pass depends on the previous one; each is vectorised
        mean = 0.5 * (v[: n - 2 * p] + v[2 * p :])
        np.minimum(v[p : n - p], mean, out=v[p : n - p])
    if lls:
        v = (np.exp(np.exp(v) - 1.0) - 1.0) ** 2 - 1.0
    return np.minimum(v, y)


def estimate_noise(intensity: ArrayLike) -> float:
    """Robust estimate of the point-to-point noise standard deviation of a profile.

    ``σ ≈ 1.4826 · median(|d² − median(d²)|) / √6`` with ``d²`` the second differences
    ``y[i−1] − 2 y[i] + y[i+1]``: for white noise ``var(d²) = 6σ²``; smooth background and
    peaks sampled by several points add little to the median. Returns 0 for fewer than 3
    points or a noiseless profile.
    """
    y = np.asarray(intensity, dtype=np.float64).ravel()
    if y.size < 3:
        return 0.0
    d2 = y[2:] - 2 * y[1:-1] + y[:-2]
    return float(1.4826 * np.median(np.abs(d2 - np.median(d2))) / np.sqrt(6.0))


def _resolve_source_wavelength(profile: PowderProfile, wavelength: float | str | None) -> float:
    if wavelength is not None:
        return resolve_wavelength(wavelength)
    if profile.wavelength is None:
        raise ValueError(
            "The profile's wavelength is unknown; pass wavelength= (Å or a name such as 'CuKa1') "
            "to map it onto the Mo Kα axis."
        )
    return float(profile.wavelength)


def _net_profile(
    profile: PowderProfile,
    background: BackgroundMethod | ArrayLike,
    snip_window_deg: float,
) -> NDArray[np.float64]:
    tt = np.asarray(profile.two_theta, dtype=np.float64)
    y = np.asarray(profile.intensity, dtype=np.float64)
    if isinstance(background, str):
        if background == "snip":
            bkg = snip_background(tt, y, snip_window_deg)
        elif background == "none":
            bkg = np.zeros_like(y)
        else:
            raise ValueError(f"Unknown background {background!r}; use 'snip', 'none' or an array.")
    else:
        bkg = np.asarray(background, dtype=np.float64)
        if bkg.shape != y.shape or not np.all(np.isfinite(bkg)):
            raise ValueError(f"A background array must be finite with the profile's shape {y.shape}.")
    net = np.maximum(y - bkg, 0.0)
    net[net <= 1e-9 * y.max()] = 0.0  # round-off of the background transform
    if not np.any(net > 0):
        raise ValueError("Nothing is left of the profile after background removal.")
    return net


def profile_to_sticks(
    profile: PowderProfile,
    *,
    wavelength: float | str | None = None,
    method: ReductionMethod = "peaks",
    background: BackgroundMethod | ArrayLike = "snip",
    snip_window_deg: float = 1.0,
    prominence: float = 0.01,
    noise_threshold: float = 5.0,
    lp_correction: bool = True,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Reduce a profile to peak positions on the Mo Kα axis and their heights.

    Parameters
    ----------
    profile
        The measured or simulated profile.
    wavelength
        Wavelength of the profile (Å or a name); default: ``profile.wavelength``.
    method
        ``"peaks"`` (default): one stick per local maximum whose prominence is at least
        ``prominence × max`` of the background-subtracted profile. ``"bin_max"``: every
        point of the background-subtracted profile is a stick (binning then keeps the
        largest per bin).
    background
        ``"snip"`` (default, :func:`snip_background` with ``snip_window_deg``), ``"none"``
        (the profile is used as it is), or an array on the profile's grid to subtract.
    snip_window_deg
        SNIP half-window in degrees of the profile's own 2θ.
    prominence
        Minimum prominence of a peak relative to the largest background-subtracted
        intensity (``"peaks"`` only).
    noise_threshold
        Also require a prominence of at least this many noise standard deviations
        (``"peaks"`` only). The noise is estimated robustly from the profile itself as
        ``1.4826 · MAD(second differences) / √6`` (white noise has a second-difference
        variance of 6σ²; the median is dominated by the background between peaks). 0 turns
        it off. This keeps counting-noise maxima of weak, noisy data out of the peak list.
    lp_correction
        Re-weight heights by ``LP(θ_Mo) / LP(θ_source)`` (see the module docstring).

    Returns
    -------
    two_theta_mo, heights
        Positions (degrees, Mo Kα, within [0, 180]) and non-negative heights, in increasing
        2θ; points beyond 180° at Mo Kα are dropped.

    Raises
    ------
    ValueError
        If the wavelength is unknown, the method or background is unknown, nothing is left
        after background removal, or no peak survives the mapping.
    """
    lam = _resolve_source_wavelength(profile, wavelength)
    if method not in ("peaks", "bin_max"):
        raise ValueError(f"Unknown method {method!r}; use 'peaks' or 'bin_max'.")
    if not 0 <= prominence < 1:
        raise ValueError(f"prominence must lie in [0, 1), got {prominence}.")
    tt = np.asarray(profile.two_theta, dtype=np.float64)
    net = _net_profile(profile, background, snip_window_deg)

    if method == "peaks":
        y = np.asarray(profile.intensity, dtype=np.float64)
        min_prom = max(prominence * net.max(), noise_threshold * estimate_noise(y))
        idx, _ = find_peaks(net, prominence=min_prom)
        if idx.size == 0:
            raise ValueError("No peaks found in the profile.")
        # Parabolic refinement of the position through the three points around each maximum.
        inner = (idx > 0) & (idx < net.size - 1)
        pos = tt[idx].copy()
        i = idx[inner]
        y0, y1, y2 = net[i - 1], net[i], net[i + 1]
        curv = y0 - 2 * y1 + y2
        with np.errstate(divide="ignore", invalid="ignore"):
            delta = np.where(curv < 0, 0.5 * (y0 - y2) / curv, 0.0)
        delta = np.clip(delta, -0.5, 0.5)
        frac = np.where(delta >= 0, tt[i + 1] - tt[i], tt[i] - tt[i - 1])
        pos[inner] = tt[i] + delta * frac
        src_tt, heights = pos, net[idx]
    else:
        keep = net > 0
        src_tt, heights = tt[keep], net[keep]

    mo_tt = convert_two_theta(src_tt, lam, MO_KA)
    inside = np.isfinite(mo_tt)
    n_out = int(src_tt.size - np.count_nonzero(inside))
    if n_out:
        logger.info(
            "%d of %d %s lie beyond 180° at Mo Kα (d < %.4f Å) and are dropped.",
            n_out,
            src_tt.size,
            "peaks" if method == "peaks" else "points",
            MO_KA / 2,
        )
    src_tt, mo_tt, heights = src_tt[inside], mo_tt[inside], heights[inside]
    if mo_tt.size == 0:
        raise ValueError("No part of the profile maps onto the Mo Kα axis below 180°.")
    if lp_correction:
        heights = heights * (lorentz_polarisation(mo_tt) / lorentz_polarisation(src_tt))
        finite = np.isfinite(heights)
        mo_tt, heights = mo_tt[finite], heights[finite]
    return mo_tt, heights


def profile_to_vector(
    profile: PowderProfile,
    *,
    method: ReductionMethod = "peaks",
    background: BackgroundMethod | ArrayLike = "snip",
    wavelength: float | str | None = None,
    snip_window_deg: float = 1.0,
    prominence: float = 0.01,
    noise_threshold: float = 5.0,
    lp_correction: bool = True,
) -> NDArray[np.float32]:
    """Turn a profile into the model's 1024-bin Mo Kα vector (largest peak = 1).

    Parameters are those of :func:`profile_to_sticks`; the sticks are binned with
    :func:`pymatgen_crystalnet.featurize.xrd_vector.sticks_to_vector`.

    Returns
    -------
    numpy.ndarray
        Shape ``(1024,)``, float32, in [0, 1], zero where the profile does not reach.
    """
    mo_tt, heights = profile_to_sticks(
        profile,
        wavelength=wavelength,
        method=method,
        background=background,
        snip_window_deg=snip_window_deg,
        prominence=prominence,
        noise_threshold=noise_threshold,
        lp_correction=lp_correction,
    )
    return sticks_to_vector(mo_tt, heights)
