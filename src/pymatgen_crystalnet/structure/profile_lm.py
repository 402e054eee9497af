"""Weights, agreement factors and a small dense Levenberg–Marquardt for full-profile fits.

Both the Pawley extraction (:mod:`.pawley`) and the Rietveld refinement (:mod:`.rietveld`)
minimise ``χ² = Σ_i w_i (y_o,i − y_c,i)²`` over the measured points with a handful to a few
dozen nonlinear parameters, so one dense Levenberg–Marquardt (Marquardt's ``diag(JᵀJ)``
damping, a step accepted only where χ² falls) serves both; the residuals and the Jacobian
come from the caller.

- weights: ``w = 1/σ²`` where the profile carries esds, else counting statistics
  ``w = 1 / max(y, floor)`` with ``floor`` 1 % of the median intensity (processed or net
  profiles can hold values near zero, which would otherwise weigh without bound); points of
  exactly zero intensity in a profile whose median exceeds :data:`MISSING_MEDIAN` counts are
  missing data (detector gaps, excluded regions: a Poisson count of mean 20 is 0 with
  probability 2e-9) and get weight 0;
- ``Rwp = sqrt(χ² / Σ w y_o²)``, ``Rp = Σ |y_o − y_c| / Σ y_o`` and the expected
  ``Rexp = sqrt((N − P) / Σ w y_o²)`` (the Rwp of a perfect model; Rwp/Rexp ≈ 1 is a fit to
  the noise).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike, NDArray

__all__ = ["LMResult", "agreement", "bounded_least_squares", "lm_minimise", "profile_weights"]

#: Floor of the counting-statistics variance, as a fraction of the median intensity.
VARIANCE_FLOOR: float = 0.01
#: Median intensity above which zero-intensity points are taken as missing data.
MISSING_MEDIAN: float = 20.0
#: Relative ridge added to the normal equations (reflections that coincide stay solvable).
RIDGE: float = 1e-10


def profile_weights(intensity: ArrayLike, sigma: ArrayLike | None = None) -> NDArray[np.float64]:
    """Least-squares weights of a measured profile (module docstring)."""
    y = np.asarray(intensity, dtype=float)
    missing = (y == 0) & (float(np.median(y)) > MISSING_MEDIAN)
    if sigma is not None:
        s = np.asarray(sigma, dtype=float)
        positive = s[s > 0]
        if positive.size:
            return np.where(missing, 0.0, 1.0 / np.maximum(s, 0.5 * float(positive.min())) ** 2)
    positive = y[y > 0]
    floor = VARIANCE_FLOOR * float(np.median(positive)) if positive.size else 1.0
    return np.where(missing, 0.0, 1.0 / np.maximum(y, max(floor, 1e-12)))


def agreement(
    observed: NDArray[np.float64],
    calculated: NDArray[np.float64],
    weights: NDArray[np.float64],
    n_params: int,
) -> dict[str, float]:
    """``rwp``, ``rp``, ``rexp`` and ``chi2`` (reduced) of a calculated profile."""
    diff = observed - calculated
    wyy = float(np.sum(weights * observed**2))
    chi2 = float(np.sum(weights * diff**2))
    dof = max(int(np.count_nonzero(weights > 0)) - int(n_params), 1)
    return {
        "rwp": float(np.sqrt(chi2 / wyy)) if wyy > 0 else float("nan"),
        "rp": float(np.sum(np.abs(diff)[weights > 0]) / np.sum(np.abs(observed)[weights > 0])),
        "rexp": float(np.sqrt(dof / wyy)) if wyy > 0 else float("nan"),
        "chi2": chi2 / dof,
    }


@dataclass
class LMResult:
    """Final parameters, χ², iterations run and whether χ² stopped falling."""

    x: torch.Tensor
    chi2: float
    iterations: int
    converged: bool


def lm_minimise(
    residuals: Callable[[torch.Tensor], torch.Tensor],
    jacobian: Callable[[torch.Tensor], torch.Tensor],
    x0: torch.Tensor,
    *,
    free: torch.Tensor | None = None,
    clamp: Callable[[torch.Tensor], torch.Tensor] | None = None,
    max_iter: int = 20,
    rtol: float = 1e-6,
    deadline: float | None = None,
) -> LMResult:
    """Levenberg–Marquardt on ``Σ r(x)²`` from ``x0`` (1-D), parameters outside ``free`` fixed.

    Parameters
    ----------
    residuals
        ``x ↦ (P,)`` weighted residuals.
    jacobian
        ``x ↦ (P, n)`` their derivatives (columns of fixed parameters are ignored).
    x0
        Starting parameters ``(n,)``.
    free
        ``(n,)`` boolean mask of the refined parameters (default all).
    clamp
        Moves a trial point into the parameters' domain (bounds).
    max_iter
        Jacobian evaluations at most.
    rtol
        Stop when an accepted step lowers χ² by less than this fraction.
    deadline
        ``time.perf_counter()`` value after which no new iteration starts.
    """
    x = x0.clone()
    n = x.numel()
    free = torch.ones(n, dtype=torch.bool, device=x.device) if free is None else free.to(x.device)
    fixed = (~free).to(x.dtype)
    r = residuals(x)
    chi2 = float((r * r).sum())
    lam, converged, it = 1e-3, False, 0
    if not np.isfinite(chi2):
        return LMResult(x, chi2, 0, False)
    for it in range(1, max_iter + 1):  # noqa: B007
        if deadline is not None and time.perf_counter() > deadline:
            break
        jac = jacobian(x) * free.to(x.dtype)
        if not bool(torch.isfinite(jac).all()):
            break
        jtj = jac.T @ jac
        grad = jac.T @ r
        diag = torch.diagonal(jtj).clone()
        scale = float(diag.max()) if diag.numel() else 1.0
        diag = torch.maximum(diag, torch.full_like(diag, 1e-12 * max(scale, 1e-30))) + fixed
        accepted = False
        for _ in range(8):  # raise the damping until a step lowers χ²
            system = jtj + torch.diag(lam * diag) + torch.diag(fixed)
            try:
                step = -torch.linalg.solve(system, grad)
            except RuntimeError:  # singular: damp more
                lam *= 10.0
                continue
            trial = x + step * free.to(x.dtype)
            if clamp is not None:
                trial = clamp(trial)
            r_trial = residuals(trial)
            chi2_trial = float((r_trial * r_trial).sum())
            if np.isfinite(chi2_trial) and chi2_trial < chi2:
                small = chi2 - chi2_trial <= rtol * chi2
                x, r, chi2 = trial, r_trial, chi2_trial
                lam = max(lam / 3.0, 1e-9)
                accepted = True
                converged = small
                break
            lam *= 4.0
        if not accepted:
            converged = True
            break
        if converged:
            break
    return LMResult(x, chi2, it, converged)


def bounded_least_squares(
    matrix: Any,
    target: NDArray[np.float64],
    nonneg: NDArray[np.bool_],
    start: NDArray[np.float64] | None = None,
    max_iter: int = 200,
) -> NDArray[np.float64]:
    """``argmin ‖A x − t‖²`` with ``x_k ≥ 0`` where ``nonneg``, the other unknowns free.

    Lawson–Hanson active sets on the normal equations ``AᵀA x = Aᵀt`` (sparse ``A``: a peak
    overlaps only its neighbours, so every solve is a sparse factorisation), with a relative
    ridge :data:`RIDGE` on the diagonal; unknowns whose column is zero stay 0. ``start`` (a
    previous solution) gives the first passive set: between two cycles of a profile fit the set
    barely changes.

    Parameters
    ----------
    matrix
        ``(P, n)`` scipy sparse matrix (or array).
    target
        ``(P,)`` right-hand side.
    nonneg
        ``(n,)`` which unknowns are bounded below by 0.
    start
        ``(n,)`` previous solution, or None.
    max_iter
        Outer iterations (variables released) at most.
    """
    from scipy.sparse import csc_matrix, diags
    from scipy.sparse.linalg import spsolve

    a = csc_matrix(matrix)
    normal = (a.T @ a).tocsc()
    rhs = np.asarray(a.T @ target, dtype=float).ravel()
    n = rhs.size
    diag = normal.diagonal()
    empty = ~(diag > 0)  # a column of zeros (a peak wholly outside the data): its unknown stays 0
    normal = (normal + diags(RIDGE * np.where(empty, 1.0, diag))).tocsc()

    def solve(free: NDArray[np.bool_]) -> NDArray[np.float64]:
        z = np.zeros(n)
        idx = np.flatnonzero(free)
        if idx.size:
            sub = normal[idx][:, idx]
            z[idx] = spsolve(sub, rhs[idx]) if idx.size > 1 else rhs[idx] / sub.toarray().ravel()
        return z

    if start is None or start.shape != (n,) or not np.all(np.isfinite(start)):
        z = solve(~empty)
        free = (~nonneg | (z > 0)) & ~empty
        x = np.where(free, z, 0.0)
    else:
        free = (~nonneg | (start > 0)) & ~empty
        x = np.where(free, start, 0.0)
    tol = 1e-12 * max(float(np.abs(rhs).max()), 1e-300)
    for _ in range(int(max_iter)):
        for _inner in range(n + 1):  # Lawson–Hanson: move towards the solution on the free set
            z = solve(free)
            neg = np.flatnonzero(nonneg & free & (z <= 0))
            if neg.size == 0:
                x = z
                break
            ratios = x[neg] / np.maximum(x[neg] - z[neg], 1e-300)
            alpha = float(np.clip(ratios.min(), 0.0, 1.0))
            x = x + alpha * (z - x)
            free[neg[ratios <= alpha * (1 + 1e-12)]] = False
            free &= ~(nonneg & (x <= 0))
            x[~free] = 0.0
        gradient = rhs - normal @ x  # −∇ of ½‖Ax − t‖²
        release = nonneg & ~free & ~empty & (gradient > tol)
        if not release.any():
            break
        free[int(np.argmax(np.where(release, gradient, -np.inf)))] = True
    return np.where(nonneg, np.maximum(x, 0.0), x)
