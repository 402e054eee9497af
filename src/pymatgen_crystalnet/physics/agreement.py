"""Agreement between powder patterns: cosine similarity, Rwp, and Rwp on a measured profile.

Definitions
-----------
Cosine similarity
    ``cos(a, b) = Σ a·b / (‖a‖ ‖b‖)`` over the last axis (the 1024 bins), batched over the
    leading axes (which broadcast).
Weighted profile R-factor
    ``Rwp = sqrt(Σ w (y_o − c·y_c)² / Σ w y_o²)``. With ``fit_scale`` the scale ``c`` minimises
    the numerator (weighted least squares): ``c = Σ w y_o y_c / Σ w y_c²``; otherwise
    ``c = 1``. Weights default to 1 (pattern vectors); for measured counts use ``w = 1/σ²``
    (or ``1/y_o``, Poisson), as :func:`profile_rwp` does.

Profiles are rendered from sticks with a pseudo-Voigt of fixed FWHM (:func:`simulate_profile`).

This module only needs numpy; measured profiles are anything with ``two_theta``,
``intensity`` and ``sigma`` attributes (such as
:class:`pymatgen_crystalnet.physics.powder_profile.PowderProfile`, which the readers of
:mod:`pymatgen_crystalnet.io.patterns` return).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike, NDArray

if TYPE_CHECKING:
    from pymatgen_crystalnet.physics.powder_profile import PowderProfile

__all__ = [
    "cosine_similarity",
    "profile_rwp",
    "rwp",
    "simulate_profile",
]

logger = logging.getLogger(__name__)

_FWHM_TO_SIGMA = 1.0 / (2.0 * np.sqrt(2.0 * np.log(2.0)))
_MAX_CHUNK = 4_000_000  # grid points × sticks evaluated at once


def _as_float_array(x: ArrayLike, name: str) -> NDArray[np.float64]:
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} is not numeric: {exc}") from None
    if arr.ndim == 0:
        raise ValueError(f"{name} must be an array, got a scalar.")
    if arr.shape[-1] == 0:
        raise ValueError(f"{name} is empty.")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values.")
    return arr


def _check_pair(a: NDArray, b: NDArray, names: tuple[str, str]) -> tuple[int, ...]:
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(
            f"{names[0]} and {names[1]} differ in length along the last axis "
            f"({a.shape[-1]} vs {b.shape[-1]})."
        )
    try:
        return np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ValueError(f"{names[0]} {a.shape} and {names[1]} {b.shape} do not broadcast.") from None


def _scalar_or_array(x: NDArray[np.float64]) -> float | NDArray[np.float64]:
    return float(x) if x.ndim == 0 else x


def cosine_similarity(a: ArrayLike, b: ArrayLike) -> float | NDArray[np.float64]:
    """Cosine similarity of two pattern vectors along the last axis.

    Parameters
    ----------
    a, b
        Arrays of shape ``(..., n)`` whose leading axes broadcast.

    Returns
    -------
    float or numpy.ndarray
        A float for 1-D inputs, else an array of the broadcast leading shape.

    Raises
    ------
    ValueError
        On empty input, NaN/inf, lengths that differ, shapes that do not broadcast, or a
        vector of zero norm (the cosine is undefined there).
    """
    a = _as_float_array(a, "a")
    b = _as_float_array(b, "b")
    _check_pair(a, b, ("a", "b"))
    na = np.linalg.norm(a, axis=-1)
    nb = np.linalg.norm(b, axis=-1)
    if np.any(na == 0) or np.any(nb == 0):
        raise ValueError(
            f"Cosine similarity is undefined for an all-zero vector "
            f"({int(np.count_nonzero(na == 0))} in a, {int(np.count_nonzero(nb == 0))} in b)."
        )
    cos = np.sum(a * b, axis=-1) / (na * nb)
    return _scalar_or_array(np.clip(cos, -1.0, 1.0))


def rwp(
    observed: ArrayLike,
    calculated: ArrayLike,
    weights: ArrayLike | None = None,
    fit_scale: bool = True,
    *,
    return_scale: bool = False,
) -> float | NDArray[np.float64] | tuple:
    """Weighted profile R-factor ``sqrt(Σ w (y_o − c·y_c)² / Σ w y_o²)`` along the last axis.

    Parameters
    ----------
    observed
        ``y_o``, shape ``(..., n)``.
    calculated
        ``y_c``, shape broadcastable with ``observed``.
    weights
        Non-negative ``w`` broadcastable with ``observed``; default 1 (right for normalised
        pattern vectors). For counts use ``1/σ²`` or ``1/y_o``.
    fit_scale
        Fit ``c`` by weighted least squares (``c = Σ w y_o y_c / Σ w y_c²``; ``c = 0`` if
        ``y_c`` is zero wherever ``w > 0``); if False, ``c = 1``.
    return_scale
        Also return ``c``.

    Returns
    -------
    float or numpy.ndarray, or (rwp, scale)
        A float for 1-D inputs, else an array over the leading axes. 0 is a perfect match;
        with a fitted scale Rwp ≤ 1.

    Raises
    ------
    ValueError
        On empty input, NaN/inf, mismatched shapes, negative weights, or an observed
        pattern that is zero wherever the weights are non-zero.
    """
    yo = _as_float_array(observed, "observed")
    yc = _as_float_array(calculated, "calculated")
    shape = _check_pair(yo, yc, ("observed", "calculated"))
    if weights is None:
        w = np.ones(shape[-1:], dtype=np.float64)
    else:
        w = _as_float_array(weights, "weights")
        shape = _check_pair(np.broadcast_to(yo, shape), w, ("observed", "weights"))
        if np.any(w < 0):
            raise ValueError("weights must be non-negative.")
    denom = np.sum(w * yo * yo, axis=-1)
    denom = np.broadcast_to(denom, shape[:-1])
    if np.any(denom <= 0):
        raise ValueError("The observed pattern is zero wherever the weights are non-zero.")
    if fit_scale:
        num = np.sum(w * yo * yc, axis=-1)
        den = np.sum(w * yc * yc, axis=-1)
        with np.errstate(divide="ignore", invalid="ignore"):
            c = np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)
    else:
        c = np.ones(shape[:-1], dtype=np.float64)
    c = np.broadcast_to(c, shape[:-1])
    resid = yo - c[..., None] * yc
    r = np.sqrt(np.sum(w * resid * resid, axis=-1) / denom)
    r = np.broadcast_to(r, shape[:-1])
    if return_scale:
        return _scalar_or_array(np.asarray(r)), _scalar_or_array(np.asarray(c))
    return _scalar_or_array(np.asarray(r))


def simulate_profile(
    two_theta: ArrayLike,
    heights: ArrayLike,
    grid: ArrayLike,
    fwhm: float | ArrayLike = 0.1,
    eta: float = 0.5,
) -> NDArray[np.float64]:
    """Render sticks as a continuous profile with pseudo-Voigt peaks.

    Each stick of position ``t`` and height ``h`` adds
    ``h · [η L(x − t) + (1 − η) G(x − t)]``, where the Lorentzian ``L`` and the Gaussian
    ``G`` share the FWHM and are scaled to 1 at their centre, so ``h`` is the peak height
    of an isolated peak. Overlapping peaks add.

    Parameters
    ----------
    two_theta
        Stick positions, 2θ in degrees, shape ``(k,)``.
    heights
        Stick heights, shape ``(k,)``, non-negative.
    grid
        2θ values (degrees) where the profile is evaluated, shape ``(m,)``.
    fwhm
        Full width at half maximum in degrees of 2θ: one value, or one per stick.
    eta
        Lorentzian fraction, in [0, 1] (0: Gaussian, 1: Lorentzian).

    Returns
    -------
    numpy.ndarray
        Shape ``(m,)``, float64.

    Raises
    ------
    ValueError
        On mismatched lengths, NaN, negative heights, a non-positive FWHM or ``eta``
        outside [0, 1].
    """
    t = np.asarray(two_theta, dtype=np.float64).ravel()
    h = np.asarray(heights, dtype=np.float64).ravel()
    x = np.asarray(grid, dtype=np.float64).ravel()
    if t.shape != h.shape:
        raise ValueError(f"Stick positions and heights differ in length ({t.size} vs {h.size}).")
    if x.size == 0:
        raise ValueError("The grid is empty.")
    if not (np.all(np.isfinite(t)) and np.all(np.isfinite(h)) and np.all(np.isfinite(x))):
        raise ValueError("Sticks or grid contain NaN or infinite values.")
    if np.any(h < 0):
        raise ValueError("Stick heights must be non-negative.")
    if not 0.0 <= eta <= 1.0:
        raise ValueError(f"eta must lie in [0, 1], got {eta}.")
    width = np.broadcast_to(np.asarray(fwhm, dtype=np.float64), t.shape)
    if not np.all(np.isfinite(width)) or np.any(width <= 0):
        raise ValueError("fwhm must be finite and positive.")
    out = np.zeros(x.size, dtype=np.float64)
    if t.size == 0:
        return out
    hw = 0.5 * width
    sig = width * _FWHM_TO_SIGMA
    step = max(1, _MAX_CHUNK // x.size)
    for start in range(0, t.size, step):  # chunks bound memory; each chunk is vectorised
        sl = slice(start, start + step)
        dx = x[:, None] - t[None, sl]
        lor = 1.0 / (1.0 + (dx / hw[None, sl]) ** 2)
        gau = np.exp(-0.5 * (dx / sig[None, sl]) ** 2)
        out += (eta * lor + (1.0 - eta) * gau) @ h[sl]
    return out


def profile_rwp(
    profile: PowderProfile,
    two_theta_sticks: ArrayLike,
    heights: ArrayLike,
    fwhm: float | ArrayLike = 0.1,
    *,
    eta: float = 0.5,
    background: ArrayLike | None = None,
    weighting: str = "auto",
    return_scale: bool = False,
) -> float | tuple[float, float]:
    """Rwp of a measured profile against sticks rendered on the profile's 2θ grid.

    The sticks must be on the profile's own 2θ axis (same wavelength), e.g. from
    ``XRDCalculator(wavelength=profile.wavelength).get_pattern(structure, (lo, hi))``.
    They are rendered with :func:`simulate_profile`; the scale is fitted.

    Parameters
    ----------
    profile
        A measured profile (``two_theta``, ``intensity``, ``sigma``).
    two_theta_sticks, heights
        The calculated sticks.
    fwhm, eta
        Pseudo-Voigt width (degrees) and Lorentzian fraction for rendering.
    background
        Background on the profile's grid (e.g. from
        :func:`pymatgen_crystalnet.featurize.profile.snip_background`), subtracted from the
        observed profile before comparison; ``None`` compares the raw profile (then the
        background counts as misfit).
    weighting
        ``"auto"``: ``1/σ²`` if the profile has ``sigma`` (points with σ = 0 get weight 0),
        else Poisson ``1/y_o`` (with ``y_o`` floored at its smallest positive value);
        ``"sigma"``, ``"poisson"`` or ``"unit"`` to choose.
    return_scale
        Also return the fitted scale.

    Returns
    -------
    float or (float, float)
        Rwp (and the scale).

    Raises
    ------
    ValueError
        On an unknown weighting, ``"sigma"`` without sigma, a background of the wrong
        length, or any error of :func:`rwp` / :func:`simulate_profile`.
    """
    tt = np.asarray(profile.two_theta, dtype=np.float64)
    yo = np.asarray(profile.intensity, dtype=np.float64)
    sigma = getattr(profile, "sigma", None)
    if weighting == "auto":
        weighting = "sigma" if sigma is not None else "poisson"
    if weighting == "sigma":
        if sigma is None:
            raise ValueError("weighting='sigma' needs a profile with sigma.")
        s = np.asarray(sigma, dtype=np.float64)
        with np.errstate(divide="ignore"):
            w = np.where(s > 0, 1.0 / np.where(s > 0, s, 1.0) ** 2, 0.0)
    elif weighting == "poisson":
        positive = yo[yo > 0]
        if positive.size == 0:
            raise ValueError("The observed profile has no positive intensity.")
        w = 1.0 / np.maximum(yo, positive.min())
    elif weighting == "unit":
        w = np.ones_like(yo)
    else:
        raise ValueError(f"Unknown weighting {weighting!r}; use 'auto', 'sigma', 'poisson' or 'unit'.")
    if background is not None:
        bkg = np.asarray(background, dtype=np.float64)
        if bkg.shape != yo.shape:
            raise ValueError(f"background has shape {bkg.shape}, the profile {yo.shape}.")
        yo = yo - bkg
    yc = simulate_profile(two_theta_sticks, heights, tt, fwhm=fwhm, eta=eta)
    r, c = rwp(yo, yc, w, fit_scale=True, return_scale=True)
    logger.debug("profile Rwp %.4f with scale %.4g (%s weighting).", r, c, weighting)
    return (float(r), float(c)) if return_scale else float(r)
