"""Pair a model's reflections with the sticks of a target pattern, and stick figures of merit.

A target stick pattern (2θ, intensity) and a model's merged reflections are compared bin by
bin. Every target stick is one bin; every computed reflection goes to the bin of the nearest
target stick within ``tol`` degrees (several reflections may fall on one stick: an observed
stick is their sum); a computed reflection with no target stick near it gets a bin of its own
with observed intensity 0 (a peak the model predicts and the pattern does not have). A target
stick no reflection reaches keeps a computed intensity of 0. The figures of merit are then
taken over all bins:

- ``Rwp = sqrt(Σ w (y_o − s y_c)² / Σ w y_o²)`` with counting-statistics weights
  ``w = 1 / (y_o + floor)``, ``floor`` = 1 % of the strongest observed stick (so that bins
  with ``y_o = 0`` get a finite weight) — the stick analogue of the profile Rwp;
- ``R_Bragg = Σ |y_o − s y_c| / Σ y_o`` (the integrated-intensity R of Rietveld programs);
- the cosine between the observed and computed bin vectors.

Sticks extracted from a profile (:mod:`.pawley`) come with ``groups``: target sticks closer
than the peak width, whose split of the intensity the profile does not determine, form one bin
(their summed intensity against the sum of the computed reflections that fall on any of them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["StickBins", "check_target", "match_sticks", "stick_figures"]

#: weight floor as a fraction of the strongest observed stick
WEIGHT_FLOOR: float = 0.01


@dataclass(frozen=True)
class StickBins:
    """Bins shared by a target pattern and a model's merged reflections.

    Attributes
    ----------
    peak_bin
        ``(M,)`` bin of each merged model reflection.
    observed
        ``(K,)`` observed intensity of each bin (0 for model-only bins).
    weights
        ``(K,)`` least-squares weights ``1 / (y_o + floor)``.
    two_theta
        ``(K,)`` 2θ of each bin (the target stick's, or the reflection's for model-only bins).
    n_target
        Bins ``0 .. n_target-1`` are the target sticks (in ascending 2θ).
    """

    peak_bin: NDArray[np.int64]
    observed: NDArray[np.float64]
    weights: NDArray[np.float64]
    two_theta: NDArray[np.float64]
    n_target: int

    @property
    def n_bins(self) -> int:
        """Number K of bins."""
        return len(self.observed)


def check_target(
    two_theta: ArrayLike, intensities: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Validated target sticks sorted by 2θ.

    Raises
    ------
    ValueError
        For empty or mismatched arrays, non-finite values, 2θ outside (0, 180), negative
        intensities or no positive intensity.
    """
    tt = np.asarray(two_theta, dtype=np.float64).ravel()
    y = np.asarray(intensities, dtype=np.float64).ravel()
    if tt.size == 0:
        raise ValueError("The target pattern has no stick.")
    if tt.shape != y.shape:
        raise ValueError(f"Target 2θ and intensities differ in length ({tt.size} and {y.size}).")
    if not (np.all(np.isfinite(tt)) and np.all(np.isfinite(y))):
        raise ValueError("The target pattern holds non-finite values.")
    if np.any(tt <= 0) or np.any(tt >= 180):
        raise ValueError("Target 2θ must lie strictly between 0 and 180 degrees.")
    if np.any(y < 0):
        raise ValueError("Target intensities must be ≥ 0.")
    if not np.any(y > 0):
        raise ValueError("The target pattern has no positive intensity.")
    order = np.argsort(tt, kind="stable")
    return tt[order], y[order]


def match_sticks(
    model_two_theta: ArrayLike,
    target_two_theta: ArrayLike,
    target_intensities: ArrayLike,
    tol: float = 0.02,
    groups: ArrayLike | None = None,
) -> StickBins:
    """Bins pairing a model's merged reflections with target sticks (see the module docstring).

    Parameters
    ----------
    model_two_theta
        ``(M,)`` 2θ of the model's merged reflections (ascending).
    target_two_theta, target_intensities
        The target sticks (validated with :func:`check_target`).
    tol
        Largest 2θ difference (degrees) at which a reflection is the target stick.
    groups
        ``(K,)`` non-negative group index of every target stick (in the order given): sticks of
        one group are one bin, at their intensity-weighted 2θ. None: every stick its own bin.
    """
    if not np.isfinite(tol) or tol <= 0:
        raise ValueError(f"The matching tolerance must be a positive number of degrees, got {tol!r}.")
    tt_in = np.asarray(target_two_theta, dtype=np.float64).ravel()
    tt, y = check_target(target_two_theta, target_intensities)
    model = np.asarray(model_two_theta, dtype=np.float64)
    right = np.clip(np.searchsorted(tt, model), 0, len(tt) - 1)
    left = np.clip(right - 1, 0, len(tt) - 1)
    nearest = np.where(np.abs(tt[left] - model) <= np.abs(tt[right] - model), left, right)
    matched = np.abs(tt[nearest] - model) <= tol
    if groups is not None:
        tt, y, nearest = _grouped(tt_in, groups, tt, y, nearest)
    extra = np.flatnonzero(~matched)
    peak_bin = nearest.copy()
    peak_bin[extra] = len(tt) + np.arange(len(extra))
    observed = np.concatenate([y, np.zeros(len(extra))])
    floor = WEIGHT_FLOOR * y.max()
    return StickBins(
        peak_bin=peak_bin.astype(np.int64),
        observed=observed,
        weights=1.0 / (observed + floor),
        two_theta=np.concatenate([tt, model[extra]]),
        n_target=len(tt),
    )


def _grouped(
    tt_in: NDArray[np.float64], groups: ArrayLike, tt: NDArray[np.float64], y: NDArray[np.float64],
    nearest: NDArray[np.int64],
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
    """Group bins: their 2θ and summed intensity, and each reflection's group."""
    g_in = np.asarray(groups).ravel()
    if g_in.shape != tt_in.shape or not np.issubdtype(g_in.dtype, np.integer) or np.any(g_in < 0):
        raise ValueError("groups must hold one non-negative integer per target stick.")
    _, g = np.unique(g_in[np.argsort(tt_in, kind="stable")], return_inverse=True)
    n = int(g.max()) + 1
    total = np.bincount(g, weights=y, minlength=n)
    mean = np.bincount(g, weights=tt, minlength=n) / np.bincount(g, minlength=n)
    weighted = np.bincount(g, weights=tt * y, minlength=n)
    centre = np.where(total > 0, weighted / np.where(total > 0, total, 1.0), mean)
    return centre, total, g[nearest]


def best_scale(observed: NDArray, calculated: NDArray, weights: NDArray) -> NDArray[np.float64]:
    """Least-squares scale ``s = Σ w y_o y_c / Σ w y_c²`` over the last axis (0 for a null model)."""
    num = np.sum(weights * observed * calculated, axis=-1)
    den = np.sum(weights * calculated * calculated, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / den, 0.0)


def stick_figures(bins: StickBins, calculated: ArrayLike, scale: float | None = None) -> dict[str, float]:
    """Rwp, R_Bragg, cosine and the scale of computed bin intensities against the target.

    Parameters
    ----------
    bins
        From :func:`match_sticks`.
    calculated
        ``(K,)`` computed intensities per bin (any scale).
    scale
        The scale to apply; by default the least-squares one.
    """
    yc = np.asarray(calculated, dtype=np.float64)
    yo, w = bins.observed, bins.weights
    s = float(best_scale(yo, yc, w)) if scale is None else float(scale)
    diff = yo - s * yc
    norm = float(np.linalg.norm(yo) * np.linalg.norm(yc))
    return {
        "rwp": float(np.sqrt(np.sum(w * diff**2) / np.sum(w * yo**2))),
        "r_bragg": float(np.sum(np.abs(diff)) / np.sum(yo)),
        "cosine": float(yo @ yc / norm) if norm > 0 else 0.0,
        "scale": s,
    }
