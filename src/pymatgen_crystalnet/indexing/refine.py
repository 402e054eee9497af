"""Least-squares refinement of form parameters and zero shift against assigned lines.

The model of an observed line is ``2θ_obs = 2θ(Q_calc) + z`` with ``Q_calc = f(hkl)·p`` and
``z`` the zero shift (degrees). Each pass assigns every line to the calculated line nearest in
2θ (within a window), then takes Gauss–Newton steps on the 2θ residuals
(``∂2θ/∂p_j = f_j / (dQ/d2θ)``, ``∂2θ/∂z = 1``), weighted by ``1/σ²``. The first pass uses the
search window (tolerance + largest zero shift); later passes use the tolerance alone about
the refined zero. Standard uncertainties come from ``s² (JᵀWJ)⁻¹`` with
``s² = Σ w r² / (n − m)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from pymatgen_crystalnet.indexing.forms import LatticeForm, centring_allows, feature_table, reciprocal_metric

__all__ = ["Refinement", "q_to_tt", "refine_form", "tt_to_q"]

_RAD = np.pi / 180.0


def tt_to_q(two_theta: NDArray[np.float64], wavelength: float) -> NDArray[np.float64]:
    """``Q = 1/d² = (2 sin θ / λ)²`` (Å⁻²) of 2θ in degrees."""
    return (2.0 * np.sin(0.5 * _RAD * np.asarray(two_theta, dtype=np.float64)) / wavelength) ** 2


def q_to_tt(q: NDArray[np.float64], wavelength: float) -> NDArray[np.float64]:
    """2θ (degrees) of ``Q = 1/d²``; NaN beyond 180°."""
    s = 0.5 * wavelength * np.sqrt(np.maximum(np.asarray(q, dtype=np.float64), 0.0))
    with np.errstate(invalid="ignore"):
        return 2.0 * np.degrees(np.arcsin(np.where(s <= 1.0, s, np.nan)))


def dq_dtt(two_theta: NDArray[np.float64], wavelength: float) -> NDArray[np.float64]:
    """``dQ/d(2θ)`` per degree of 2θ."""
    return 2.0 * np.sin(_RAD * np.asarray(two_theta, dtype=np.float64)) / wavelength**2 * _RAD


@dataclass(frozen=True)
class Refinement:
    """Result of :func:`refine_form`.

    Attributes
    ----------
    params
        Refined form parameters.
    zero
        Refined zero shift (degrees; ``2θ_obs = 2θ_true + zero``).
    covariance
        Covariance of ``(params…, zero)``; the zero row/column is 0 when it was not refined.
    indexed
        Which lines were assigned (within the tolerance) in the last pass.
    rms
        Root-mean-square 2θ residual of the assigned lines (degrees).
    """

    params: NDArray[np.float64]
    zero: float
    covariance: NDArray[np.float64]
    indexed: NDArray[np.bool_]
    rms: float


def _features_for(
    form: LatticeForm, p: NDArray[np.float64], q_max: float, centring: str = "P"
) -> NDArray[np.float64]:
    g = np.linalg.inv(reciprocal_metric(form.system, p))
    lengths = np.sqrt(np.diag(g))
    hmax, kmax, lmax = (int(np.sqrt(q_max) * x) + 1 for x in lengths)
    feats = feature_table(form, hmax, kmax, lmax)
    feats = feats[feats @ p <= q_max]
    return feats if centring == "P" else feats[centring_allows(form.system, feats, centring)]


def refine_form(
    form: LatticeForm,
    p0: NDArray[np.float64],
    two_theta: NDArray[np.float64],
    wavelength: float,
    tolerance: NDArray[np.float64],
    *,
    max_zero_shift: float,
    refine_zero: bool = True,
    sigma: NDArray[np.float64] | None = None,
    n_passes: int = 4,
    centring: str = "P",
) -> Refinement | None:
    """Refine parameters ``p0`` (and the zero shift) of ``form`` against observed 2θ.

    Lines are assigned only to reflections that ``centring`` allows (the conventional cell
    of a centred lattice otherwise offers absent reflections as false partners).

    Returns ``None`` when too few lines can be assigned or the parameters leave the
    positive-definite domain.
    """
    tt = np.asarray(two_theta, dtype=np.float64)
    w = 1.0 / np.square(sigma if sigma is not None else np.full(tt.size, 0.01))
    p = np.asarray(p0, dtype=np.float64).copy()
    m = form.n_params
    zero = 0.0
    window = tolerance + max_zero_shift
    q_max = float(tt_to_q(np.array([min(tt[-1] + 2 * max_zero_shift + 1.0, 179.0)]), wavelength)[0])
    cov = np.zeros((m + 1, m + 1))
    indexed = np.zeros(tt.size, dtype=bool)
    rms = np.inf
    for n_pass in range(n_passes):
        if not form.valid(p):
            return None
        feats = _features_for(form, p, q_max, centring)
        if feats.shape[0] == 0:
            return None
        tt_calc = q_to_tt(feats @ p, wavelength) + zero
        order = np.argsort(tt_calc)
        tt_sorted = tt_calc[order]
        pos = np.clip(np.searchsorted(tt_sorted, tt), 1, tt_sorted.size - 1)
        left, right = tt_sorted[pos - 1], tt_sorted[pos]
        nearest = np.where(np.abs(tt - left) <= np.abs(tt - right), pos - 1, pos)
        delta = tt - tt_sorted[nearest]
        indexed = np.abs(delta) <= window
        fit_zero = refine_zero and np.count_nonzero(indexed) >= m + 3
        n_unknown = m + (1 if fit_zero else 0)
        if np.count_nonzero(indexed) < n_unknown + 1:
            return None
        f = feats[order][nearest][indexed]
        for _ in range(3):  # Gauss–Newton on the 2θ residuals
            q = f @ p
            tcalc = q_to_tt(q, wavelength)
            if not np.all(np.isfinite(tcalc)):
                return None
            r = tt[indexed] - zero - tcalc
            slope = dq_dtt(tcalc, wavelength)
            if not np.all(slope > 0):  # a step left the domain (a line at 2θ = 0)
                return None
            jac = f / slope[:, None]
            if fit_zero:
                jac = np.hstack([jac, np.ones((jac.shape[0], 1))])
            sw = np.sqrt(w[indexed])
            # LAPACK's SVD can loop for ever on a non-finite matrix: never hand it one
            step, *_ = np.linalg.lstsq(jac * sw[:, None], r * sw, rcond=None)
            p = p + step[:m]
            if not (np.all(np.isfinite(p)) and form.valid(p)):
                return None
            if fit_zero:
                zero = float(np.clip(zero + step[m], -2 * max_zero_shift, 2 * max_zero_shift))
        if not form.valid(p):
            return None
        tcalc = q_to_tt(f @ p, wavelength)
        r = tt[indexed] - zero - tcalc
        dof = max(1, r.size - n_unknown)
        s2 = float(np.sum(w[indexed] * r**2) / dof)
        jw = jac * np.sqrt(w[indexed])[:, None]
        try:
            c = np.linalg.inv(jw.T @ jw) * s2
        except np.linalg.LinAlgError:
            return None
        cov = np.zeros((m + 1, m + 1))
        cov[:n_unknown, :n_unknown] = c
        rms = float(np.sqrt(np.mean(r**2)))
        window = tolerance + (0.5 * max_zero_shift if n_pass == 0 else 0.0)
    return Refinement(params=p, zero=zero, covariance=cov, indexed=indexed, rms=rms)
