"""Many trial cells at once: assign the lines, fit metric and zero shift, score.

A reciprocal metric ``G*`` gives ``Q(hkl) = f(hkl)·p`` with ``p = (G11, G22, G33, G23, G13,
G12)`` and ``f = (h², k², l², 2kl, 2hl, 2hk)``; a zero shift ``z`` moves an observed line to
``Q(2θ − z) ≈ Q_obs − z·dQ/d2θ``. Given each line's nearest reflection, ``Q_obs = f·p +
z·dQ/d2θ`` is *linear* in ``(p, z)``, so every trial cell is refined by one weighted linear
least-squares solve (weights ``1/(dQ/d2θ)²``, i.e. residuals in 2θ), all cells of a chunk
together. Two passes: the first assigns within the search window (tolerance plus the largest
zero shift), the second within the tolerance about the fitted zero.

The score is the ranking merit of :mod:`pymatgen_crystalnet.indexing.evaluate` (de Wolff's
M20 with unindexed lines counted at twice the tolerance), except that ``N20`` counts
reflections rather than distinct ``Q`` (cells are scored before their symmetry is known).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from pymatgen_crystalnet.indexing.refine import dq_dtt, tt_to_q
from pymatgen_crystalnet.indexing.zone_search import hkl_features, metric_params

__all__ = ["MetricFit", "fit_metrics"]


@dataclass(frozen=True)
class MetricFit:
    """Fitted trial cells (same order as given)."""

    gstar: NDArray[np.float64]
    zero: NDArray[np.float64]
    n_indexed: NDArray[np.int64]
    n_calc: NDArray[np.int64]
    score: NDArray[np.float64]
    valid: NDArray[np.bool_]


def _metric(p: NDArray[np.float64]) -> NDArray[np.float64]:
    g = np.empty((p.shape[0], 3, 3))
    g[:, 0, 0], g[:, 1, 1], g[:, 2, 2] = p[:, 0], p[:, 1], p[:, 2]
    g[:, 1, 2] = g[:, 2, 1] = p[:, 3]
    g[:, 0, 2] = g[:, 2, 0] = p[:, 4]
    g[:, 0, 1] = g[:, 1, 0] = p[:, 5]
    return g


def _nearest(
    p: NDArray[np.float64], feats: NDArray[np.float64], q: NDArray[np.float64], q_cut: float
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.int64]]:
    """Nearest reflection of each (corrected) line ``q`` (cells × lines), its distance, and
    the number of reflections up to ``q_cut``.
    """
    qc = p @ feats.T  # cells × reflections
    n_calc = np.count_nonzero(qc <= q_cut, axis=1)
    qc = np.where(qc <= 1.05 * float(q.max()) + 1e-12, qc, np.inf)
    dist = np.abs(q[:, None, :] - qc[:, :, None])  # cells × reflections × lines
    idx = np.argmin(dist, axis=1)
    return idx, np.take_along_axis(dist, idx[:, None, :], axis=1)[:, 0, :], n_calc


def fit_metrics(
    gstar: NDArray[np.float64],
    two_theta: NDArray[np.float64],
    wavelength: float,
    tolerance: NDArray[np.float64],
    max_zero_shift: float,
    *,
    det_min: float = 0.0,
    max_index: int = 8,
    chunk: int = 48,
) -> MetricFit:
    """Assign, fit (metric and zero shift) and score trial reciprocal metrics ``(n, 3, 3)``.

    ``two_theta`` are the sorted lines to use (e.g. the first 20) with their tolerances
    (degrees). Cells whose reflections up to the last line need indices beyond
    ``max_index``, or whose fitted ``det G*`` falls below ``det_min`` (volume above the
    largest searched), are marked not valid (score 0).
    """
    tt = np.asarray(two_theta, dtype=np.float64)
    q_obs = tt_to_q(tt, wavelength)
    slope = dq_dtt(tt, wavelength)
    w = 1.0 / slope**2
    p_all = metric_params(np.asarray(gstar, dtype=np.float64))
    n = p_all.shape[0]
    zero = np.zeros(n)
    out_idx = np.zeros(n, dtype=np.int64)
    out_calc = np.zeros(n, dtype=np.int64)
    out_score = np.zeros(n)
    valid = np.ones(n, dtype=bool)
    ginv_diag = np.diagonal(np.linalg.inv(_metric(p_all)), axis1=1, axis2=2)
    bound = np.ceil(np.sqrt(1.05 * q_obs[-1] * np.clip(ginv_diag, 0, None)).max(axis=1)).astype(int)
    bound = np.clip(bound, 1, max_index)
    order = np.argsort(bound, kind="stable")
    floor = 0.002 * slope[-1]
    for s in range(0, n, chunk):
        sel = order[s : s + chunk]
        feats = hkl_features(int(bound[sel].max()))
        p = p_all[sel].copy()
        z = np.zeros(sel.size)
        for n_pass in range(2):
            win = (tolerance + (max_zero_shift if n_pass == 0 else 0.0)) * slope
            q = q_obs[None, :] - z[:, None] * slope[None, :]
            idx, dist, _ = _nearest(p, feats, q, q_obs[-1])
            use = dist <= win[None, :]
            enough = use.sum(axis=1) >= 9
            zcol = np.broadcast_to(slope[None, :, None], (*idx.shape, 1))
            design = np.concatenate([feats[idx], zcol], axis=2)
            wu = w[None, :] * use
            a = np.einsum("cl,cli,clj->cij", wu, design, design)
            b = np.einsum("cl,cli,cl->ci", wu, design, np.broadcast_to(q_obs, idx.shape))
            enough &= np.all(np.isfinite(a), axis=(1, 2)) & np.all(np.isfinite(b), axis=1)
            a[~enough] = np.eye(7)
            b[~enough] = 0.0
            try:
                sol = np.linalg.solve(a, b[..., None])[..., 0]
            except np.linalg.LinAlgError:
                sol = np.array([np.linalg.lstsq(ai, bi, rcond=None)[0] for ai, bi in zip(a, b, strict=True)])
            ok = enough & np.all(np.isfinite(sol), axis=1) & (np.abs(sol[:, 6]) <= 2 * max_zero_shift)
            p[ok], z[ok] = sol[ok, :6], sol[ok, 6]
        g = _metric(p)
        pos = np.all(np.linalg.eigvalsh(g) > 0, axis=1)
        pos &= np.linalg.det(np.where(pos[:, None, None], g, np.eye(3))) >= det_min
        gi = np.diagonal(np.linalg.inv(np.where(pos[:, None, None], g, np.eye(3))), axis1=1, axis2=2)
        pos &= np.sqrt(1.05 * q_obs[-1] * np.clip(gi, 0, None)).max(axis=1) <= bound[sel].max()
        q = q_obs[None, :] - z[:, None] * slope[None, :]
        idx, dist, n_calc = _nearest(np.where(pos[:, None], p, p_all[sel]), feats, q, q_obs[-1])
        indexed = dist <= (tolerance * slope)[None, :]
        pen = np.where(indexed, dist, 2 * tolerance[None, :] * slope[None, :])
        score = q_obs[-1] / (2 * np.maximum(pen.mean(axis=1), floor) * np.maximum(n_calc, 1))
        p_all[sel] = np.where(pos[:, None], p, p_all[sel])
        zero[sel] = np.where(pos, z, 0.0)
        valid[sel] = pos
        out_idx[sel] = indexed.sum(axis=1)
        out_calc[sel] = n_calc
        out_score[sel] = np.where(pos, score, 0.0)
    return MetricFit(_metric(p_all), zero, out_idx, out_calc, out_score, valid)
