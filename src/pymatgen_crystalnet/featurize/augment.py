"""Augmentations of the model's inputs (docs/science.md, 'Training') and sim-to-real perturbations.

All functions take numpy arrays whose *last* axis is the feature axis (1024 XRD bins or the
118 composition entries) and treat every leading index as an independent sample; they never
modify their input. Randomness comes from a ``numpy.random.Generator`` (or a seed), so a
given generator state reproduces the same augmentation.

The paper's training augmentations
----------------------------------
:func:`add_noise`
    Gaussian noise ``N(0, σ²)`` with ``σ = 0.001``, then ReLU (negative values set to 0).
    Used on both the XRD vector and the composition vector.
:func:`shift_pattern`
    A random shift of the XRD vector by less than 0.6°: an integer number of bins ``k``,
    drawn uniformly from ``−K … K`` with ``K = floor(max_shift_deg / bin width)`` (3 for
    0.6° and 1024 bins over 180°, i.e. at most 0.527°), independently per sample; bins
    shifted in from outside the axis are 0.
:func:`augment_xrd`
    Shift, then noise and ReLU.

Sim-to-real perturbations
-------------------------
:func:`broaden_peaks`
    Convolve with a Gaussian of a given FWHM in degrees (fixed, or drawn per sample from a
    range) and rescale each sample to a maximum of 1: sticks become peaks of finite width,
    as in a measured profile reduced with ``method="bin_max"``.
:func:`truncate_two_theta`
    Zero the bins above ``two_theta_max`` (and below ``two_theta_min``), as for a pattern
    measured at a longer wavelength or over a limited range, and rescale to a maximum of 1.
"""

from __future__ import annotations

import logging

import numpy as np
from numpy.typing import ArrayLike, NDArray

from pymatgen_crystalnet.featurize.xrd_vector import BIN_WIDTH, N_BINS, TWO_THETA_MAX

__all__ = [
    "add_noise",
    "augment_xrd",
    "broaden_peaks",
    "max_shift_bins",
    "shift_pattern",
    "truncate_two_theta",
]

logger = logging.getLogger(__name__)

_FWHM_TO_SIGMA = 1.0 / (2.0 * np.sqrt(2.0 * np.log(2.0)))


def _generator(rng: np.random.Generator | int | None) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _as_array(x: ArrayLike, name: str = "x") -> NDArray[np.floating]:
    arr = np.asarray(x)
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    if arr.ndim == 0 or arr.shape[-1] == 0:
        raise ValueError(f"{name} must have a non-empty last axis, got shape {arr.shape}.")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values.")
    return arr


def _per_sample(
    value: float | tuple[float, float] | ArrayLike,
    batch_shape: tuple[int, ...],
    rng: np.random.Generator | int | None,
    name: str,
) -> NDArray[np.float64]:
    """Return one value per sample from a number, a ``(low, high)`` range, or an array."""
    if isinstance(value, tuple):
        if len(value) != 2 or not value[0] <= value[1]:
            raise ValueError(f"{name} range must be (low, high) with low ≤ high, got {value}.")
        return _generator(rng).uniform(value[0], value[1], size=batch_shape)
    arr = np.asarray(value, dtype=np.float64)
    try:
        return np.broadcast_to(arr, batch_shape)
    except ValueError:
        raise ValueError(
            f"{name} of shape {arr.shape} does not match the batch shape {batch_shape}."
        ) from None


def _rescale_max(x: NDArray[np.floating]) -> NDArray[np.floating]:
    top = x.max(axis=-1, keepdims=True)
    return np.where(top > 0, x / np.where(top > 0, top, 1), x)


def add_noise(
    x: ArrayLike,
    sigma: float = 0.001,
    rng: np.random.Generator | int | None = None,
) -> NDArray[np.floating]:
    """Add Gaussian noise ``N(0, sigma²)`` to every entry, then apply ReLU.

    Parameters
    ----------
    x
        Any array (XRD or composition vectors, batched or not).
    sigma
        Standard deviation of the noise (the paper: 0.001).
    rng
        Generator or seed.

    Returns
    -------
    numpy.ndarray
        Same shape and floating dtype as ``x``, non-negative.
    """
    arr = _as_array(x)
    if not np.isfinite(sigma) or sigma < 0:
        raise ValueError(f"sigma must be non-negative, got {sigma}.")
    noise = _generator(rng).normal(0.0, sigma, size=arr.shape)
    return np.maximum(arr + noise, 0).astype(arr.dtype, copy=False)


def max_shift_bins(max_shift_deg: float = 0.6) -> int:
    """Return the largest whole number of bins within ``max_shift_deg`` (``floor(Δ / bin)``)."""
    if not np.isfinite(max_shift_deg) or max_shift_deg < 0:
        raise ValueError(f"max_shift_deg must be non-negative, got {max_shift_deg}.")
    return int(np.floor(max_shift_deg / BIN_WIDTH + 1e-9))


def shift_pattern(
    vec: ArrayLike,
    max_shift_deg: float = 0.6,
    rng: np.random.Generator | int | None = None,
    *,
    shifts: ArrayLike | None = None,
    return_shifts: bool = False,
) -> NDArray[np.floating] | tuple[NDArray[np.floating], NDArray[np.int64]]:
    """Shift each pattern along 2θ by a random whole number of bins, filling with zeros.

    Parameters
    ----------
    vec
        XRD vectors, shape ``(..., n)``.
    max_shift_deg
        The largest shift in degrees; shifts are ``k`` bins with ``|k| ≤`` :func:`max_shift_bins`.
    rng
        Generator or seed.
    shifts
        Integer shifts per sample (positive moves peaks to higher 2θ) instead of random ones.
    return_shifts
        Also return the shifts used.

    Returns
    -------
    numpy.ndarray or (numpy.ndarray, numpy.ndarray)
        The shifted vectors (same shape and dtype), and the shifts of shape ``vec.shape[:-1]``.
    """
    arr = _as_array(vec, "vec")
    n = arr.shape[-1]
    batch = arr.shape[:-1]
    if shifts is None:
        kmax = max_shift_bins(max_shift_deg)
        k = _generator(rng).integers(-kmax, kmax + 1, size=batch)
    else:
        k = np.asarray(shifts)
        if not np.issubdtype(k.dtype, np.integer):
            raise ValueError("shifts must be integers (bins).")
        k = np.broadcast_to(k, batch)
    k = np.asarray(k, dtype=np.int64)
    src = np.arange(n) - k[..., None]  # output bin i takes input bin i − k
    valid = (src >= 0) & (src < n)
    gathered = np.take_along_axis(np.broadcast_to(arr, arr.shape), np.clip(src, 0, n - 1), axis=-1)
    out = np.where(valid, gathered, 0).astype(arr.dtype, copy=False)
    return (out, k) if return_shifts else out


def broaden_peaks(
    vec: ArrayLike,
    fwhm_deg: float | tuple[float, float] | ArrayLike,
    rng: np.random.Generator | int | None = None,
    *,
    renormalise: bool = True,
) -> NDArray[np.floating]:
    """Convolve each pattern with a Gaussian of FWHM ``fwhm_deg`` (degrees of 2θ).

    The convolution is done in Fourier space on a zero-padded axis (no wrap-around), so
    every sample may have its own width.

    Parameters
    ----------
    vec
        XRD vectors, shape ``(..., 1024)`` (the bin width is 180°/1024).
    fwhm_deg
        A width, a ``(low, high)`` range to draw one width per sample from, or an array of
        widths per sample. 0 leaves a sample unchanged (apart from rescaling).
    rng
        Generator or seed (only used for a range).
    renormalise
        Rescale each sample so its maximum is 1 (all-zero samples stay zero).

    Returns
    -------
    numpy.ndarray
        Same shape and dtype as ``vec``, non-negative.
    """
    arr = _as_array(vec, "vec")
    n = arr.shape[-1]
    width = _per_sample(fwhm_deg, arr.shape[:-1], rng, "fwhm_deg")
    if np.any(width < 0) or not np.all(np.isfinite(width)):
        raise ValueError("fwhm_deg must be finite and non-negative.")
    sigma_bins = width * _FWHM_TO_SIGMA / BIN_WIDTH
    m = 2 * n
    freq = np.fft.rfftfreq(m)  # cycles per bin
    transfer = np.exp(-2.0 * (np.pi * freq) ** 2 * sigma_bins[..., None] ** 2)
    spec = np.fft.rfft(arr.astype(np.float64), n=m, axis=-1)
    out = np.fft.irfft(spec * transfer, n=m, axis=-1)[..., :n]
    out = np.maximum(out, 0.0)
    out[out < 1e-12 * out.max(axis=-1, keepdims=True)] = 0.0  # FFT round-off
    if renormalise:
        out = _rescale_max(out)
    return out.astype(arr.dtype, copy=False)


def truncate_two_theta(
    vec: ArrayLike,
    two_theta_max: float | tuple[float, float] | ArrayLike,
    rng: np.random.Generator | int | None = None,
    *,
    two_theta_min: float = 0.0,
    renormalise: bool = True,
) -> NDArray[np.floating]:
    """Zero the bins a measurement up to ``two_theta_max`` (from ``two_theta_min``) misses.

    A bin is kept if it holds angles within the range: bins ``bin_index(two_theta_min)``
    to ``bin_index(two_theta_max)`` survive (the bins a peak inside the range would go to).

    Parameters
    ----------
    vec
        XRD vectors, shape ``(..., 1024)``.
    two_theta_max
        Upper end in degrees (Mo Kα axis): a number, a ``(low, high)`` range to draw one per
        sample from, or an array per sample.
    rng
        Generator or seed (only used for a range).
    two_theta_min
        Lower end in degrees.
    renormalise
        Rescale each sample so its maximum is 1 (samples left all zero stay zero).

    Returns
    -------
    numpy.ndarray
        Same shape and dtype as ``vec``.
    """
    arr = _as_array(vec, "vec")
    n = arr.shape[-1]
    if n != N_BINS:
        raise ValueError(f"truncate_two_theta needs {N_BINS}-bin vectors, got {n}.")
    hi = _per_sample(two_theta_max, arr.shape[:-1], rng, "two_theta_max")
    if not 0 <= two_theta_min <= TWO_THETA_MAX or np.any(hi < 0) or np.any(hi > TWO_THETA_MAX):
        raise ValueError(f"2θ limits must lie in [0, {TWO_THETA_MAX:g}] degrees.")
    last = np.minimum((N_BINS * hi / TWO_THETA_MAX).astype(np.int64), N_BINS - 1)
    first = min(int(N_BINS * two_theta_min / TWO_THETA_MAX), N_BINS - 1)
    idx = np.arange(n)
    keep = (idx >= first) & (idx <= last[..., None])
    out = np.where(keep, arr, 0).astype(arr.dtype, copy=False)
    if renormalise:
        out = _rescale_max(out).astype(arr.dtype, copy=False)
    empty = ~np.any(out > 0, axis=-1)
    if np.any(empty & np.any(arr > 0, axis=-1)):
        logger.debug("%d patterns have no peak left after truncation.", int(empty.sum()))
    return out


def augment_xrd(
    vec: ArrayLike,
    rng: np.random.Generator | int | None = None,
    *,
    max_shift_deg: float = 0.6,
    sigma: float = 0.001,
) -> NDArray[np.floating]:
    """Apply the paper's XRD augmentation: a random shift, then noise and ReLU.

    Parameters
    ----------
    vec
        XRD vectors, shape ``(..., 1024)``.
    rng
        Generator or seed; the shift is drawn first, then the noise.
    max_shift_deg, sigma
        See :func:`shift_pattern` and :func:`add_noise`.
    """
    gen = _generator(rng)
    shifted = shift_pattern(vec, max_shift_deg, gen)
    return add_noise(shifted, sigma, gen)
