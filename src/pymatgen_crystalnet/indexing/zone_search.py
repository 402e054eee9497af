"""Cells of any symmetry from a zone and one more row (the second step of Ito's method).

A zone of the reciprocal lattice (:mod:`pymatgen_crystalnet.indexing.zones`) with basis
``u, v`` and one observed line ``w`` outside it span a three-dimensional lattice whose
metric is known except for ``x = u·w`` and ``y = v·w``. Lines of the rows through ``w``
parallel to ``u`` give

    Q(w + m u) = Q(w) + m² Q(u) + 2 m x        (m = ±1, ±2)

and likewise for ``v`` and ``y``; the true ``x`` and ``y`` are the values on which most lines
agree (each vote is an interval, and the support of a value is the number of intervals
containing it). Every zone, the zones that contain it with index 2 or 4 (rows removed by
centring or glide conditions restored, :func:`~pymatgen_crystalnet.indexing.zones.superzones`),
and every low line not in the zone are tried. The metrics are returned reduced; the caller
fits and scores them (:mod:`pymatgen_crystalnet.indexing.metric_fit`) and looks for their
metric symmetry.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from pymatgen_crystalnet.indexing.windows import hit_mask, monotone_windows, popcount

__all__ = ["hkl_features", "metric_params", "metrics_from_zones", "reduce_metrics", "score_metrics"]

#: Multipliers m of the zone row in the votes ``Q(w + m u) = Q(w) + m² Q(u) + 2 m x``.
_M = np.array([1, -1, 2, -2])


def reduce_metrics(g: NDArray[np.float64], n_iter: int = 40) -> NDArray[np.float64]:
    """Pairwise (Lagrange) reduction of metric tensors ``(n, 3, 3)``, shortest vector first."""
    g = np.array(g, dtype=np.float64, copy=True)
    n = g.shape[0]
    eye = np.broadcast_to(np.eye(3), (n, 3, 3))
    for _ in range(n_iter):
        changed = False
        for i in range(3):
            for j in range(3):
                if i == j:
                    continue
                r = np.round(g[:, i, j] / g[:, j, j])
                if not np.any(r):
                    continue
                changed = True
                t = eye.copy()
                t[:, i, j] = -r
                g = np.einsum("nab,nbc,ndc->nad", t, g, t)
        if not changed:
            break
    order = np.argsort(np.diagonal(g, axis1=1, axis2=2), axis=1)
    rows = np.arange(n)[:, None]
    return g[rows[:, :, None], order[:, :, None], order[:, None, :]]


def hkl_features(m: int) -> NDArray[np.float64]:
    """``(h², k², l², 2kl, 2hl, 2hk)`` of one of each ± pair of ``hkl`` with ``|h|, |k|, |l| ≤ m``.

    ``Q(hkl)`` of a reciprocal metric ``G*`` is this times
    ``(G11, G22, G33, G23, G13, G12)`` (:func:`metric_params`).
    """
    r = np.arange(-m, m + 1)
    hkl = np.stack(np.meshgrid(r, r, r, indexing="ij"), axis=-1).reshape(-1, 3)
    first = np.where(hkl[:, 0] != 0, hkl[:, 0], np.where(hkl[:, 1] != 0, hkl[:, 1], hkl[:, 2]))
    h, k, l = hkl[first > 0].T.astype(np.float64)  # noqa: E741
    return np.stack([h * h, k * k, l * l, 2 * k * l, 2 * h * l, 2 * h * k], axis=1)


def metric_params(g: NDArray[np.float64]) -> NDArray[np.float64]:
    """``(G11, G22, G33, G23, G13, G12)`` of metrics ``(n, 3, 3)``."""
    return np.stack([g[:, 0, 0], g[:, 1, 1], g[:, 2, 2], g[:, 1, 2], g[:, 0, 2], g[:, 0, 1]], axis=1)


def score_metrics(
    g: NDArray[np.float64],
    q_obs: NDArray[np.float64],
    dq: NDArray[np.float64],
    *,
    max_index: int = 8,
    chunk: int = 512,
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """Lines indexed, calculated lines up to the last line, and indexed-beyond-chance.

    ``g`` are reduced reciprocal metrics ``(n, 3, 3)``; cells needing indices beyond
    ``max_index`` are scored with those cut off (they are implausibly large anyway).
    """
    lo, hi = monotone_windows(q_obs - dq, q_obs + dq)
    q_top = float(hi[-1])
    n = g.shape[0]
    n_idx = np.zeros(n, dtype=np.int64)
    n_calc = np.zeros(n, dtype=np.int64)
    ginv = np.linalg.inv(g)
    bound = np.sqrt(q_top * np.clip(np.diagonal(ginv, axis1=1, axis2=2), 0, None)).max(axis=1)
    bound = np.clip(np.ceil(bound), 1, max_index).astype(np.int64)
    order = np.argsort(bound, kind="stable")
    params = metric_params(g)
    for s in range(0, n, chunk):
        sel = order[s : s + chunk]
        q = params[sel] @ hkl_features(int(bound[sel].max())).T
        n_idx[sel] = popcount(np.bitwise_or.reduce(hit_mask(q, q, lo, hi), axis=1))
        n_calc[sel] = np.count_nonzero(q <= q_obs[-1] * (1 + 1e-9), axis=1)
    n_ref = np.maximum(n_calc, 1)
    density = 1.5 * n_ref[:, None] * np.sqrt(q_obs)[None, :] / q_obs[-1] ** 1.5
    chance = (1.0 - np.exp(-density * 2 * dq[None, :])).sum(axis=1)
    return n_idx, n_calc, n_idx - chance


def _votes(
    group: NDArray[np.int64], value: NDArray[np.float64], width: NDArray[np.float64], top: int
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.int64]]:
    """Best-supported values of each group: ``top`` per group, each away from the better ones.

    ``value ± width`` are the votes; the support of a vote is the number of votes of its
    group whose intervals overlap its own. Returns (group, value, support).
    """
    span = float(np.abs(value).max() + width.max()) * 2 + 1.0
    key = group * (2 * span) + value
    lo_sorted = np.sort(key - width)
    hi_sorted = np.sort(key + width)
    support = np.searchsorted(lo_sorted, key + width, side="right") - np.searchsorted(hi_sorted, key - width)
    out_g, out_v, out_s = [], [], []
    alive = np.ones(value.size, dtype=bool)
    for _ in range(top):
        idx = np.flatnonzero(alive)
        if idx.size == 0:
            break
        order = idx[np.lexsort((-support[idx], group[idx]))]
        first = order[np.concatenate([[True], group[order][1:] != group[order][:-1]])]
        out_g.append(group[first])
        out_v.append(value[first])
        out_s.append(support[first])
        # drop the votes near each group's pick before the next round
        pick = np.full(int(group.max()) + 1, np.nan)
        pick_w = np.zeros(int(group.max()) + 1)
        pick[group[first]] = value[first]
        pick_w[group[first]] = width[first]
        near = np.abs(value - pick[group]) <= width + pick_w[group]
        alive &= ~(near & np.isfinite(pick[group]))
    return np.concatenate(out_g), np.concatenate(out_v), np.concatenate(out_s)


def _layer_hits(
    q1: NDArray[np.float64],
    q2: NDArray[np.float64],
    phi: NDArray[np.float64],
    qw: NDArray[np.float64],
    x: NDArray[np.float64],
    y: NDArray[np.float64],
    lo: NDArray[np.float64],
    hi: NDArray[np.float64],
) -> NDArray[np.int64]:
    """Lines met by the reflections ``l w + m u + n v`` (``l = 1, 2``; ``|m|, |n| ≤ 2``)."""
    m, n = (g.ravel().astype(np.float64) for g in np.meshgrid(np.arange(-2, 3), np.arange(-2, 3)))
    qz = np.outer(q1, m * m) + np.outer(q2, n * n) + 2 * np.outer(phi, m * n)
    bits = np.zeros(q1.size, dtype=np.int64)
    for layer in (1.0, 2.0):
        q = layer**2 * qw[:, None] + qz + 2 * layer * (np.outer(x, m) + np.outer(y, n))
        bits |= np.bitwise_or.reduce(hit_mask(q, q, lo, hi), axis=1)
    return popcount(bits)


def metrics_from_zones(
    q1: NDArray[np.float64],
    q2: NDArray[np.float64],
    phi: NDArray[np.float64],
    q_obs: NDArray[np.float64],
    dq: NDArray[np.float64],
    *,
    det_min: float,
    n_w: int = 12,
    min_support: int = 2,
    n_votes: int = 6,
    top: int = 3,
) -> NDArray[np.float64]:
    """Reduced reciprocal metrics ``(n, 3, 3)`` built from zones and one more observed row.

    For each zone and row ``w``, the ``n_votes`` best-supported values of ``x`` and of ``y``
    are combined, each pair is judged by the lines met by the reflections of the first two
    layers beyond the zone (``l w + m u + n v``, ``|m|, |n| ≤ 2``), and the ``top`` pairs
    that meet the most lines make metrics.

    Parameters
    ----------
    q1, q2, phi
        Reduced zones (``Q(u)``, ``Q(v)``, ``u·v``).
    q_obs, dq
        Sorted observed ``Q`` (Å⁻²) and window half-widths.
    det_min
        Smallest ``det G*`` (= 1/V_max²) admitted.
    n_w
        The lowest lines tried as the third row ``w``.
    min_support
        Fewest lines that must agree on ``x`` (and on ``y``).
    n_votes, top
        Values of ``x`` and of ``y`` combined, and pairs kept, per zone and row.
    """
    nz, nl = q1.size, q_obs.size
    nw = min(n_w, nl)
    # groups: (zone, w); votes: lines × m
    zi = np.repeat(np.arange(nz), nw)
    wi = np.tile(np.arange(nw), nz)
    qw, dw = q_obs[wi], dq[wi]
    picks = []
    for qa in (q1, q2):
        base = qa[zi]
        val = (q_obs[None, :, None] - qw[:, None, None] - _M[None, None, :] ** 2 * base[:, None, None]) / (
            2 * _M[None, None, :]
        )
        wid = (dq[None, :, None] + dw[:, None, None]) / (2 * np.abs(_M)[None, None, :])
        val, wid = np.broadcast_arrays(val, wid)
        ok = np.abs(val) < np.sqrt(base * qw)[:, None, None]
        grp = np.broadcast_to(np.arange(zi.size)[:, None, None], val.shape)
        g, v, sup = _votes(grp[ok], val[ok], wid[ok], n_votes)
        keep = sup >= min_support
        picks.append((g[keep], v[keep]))
    (gx, vx), (gy, vy) = picks
    if gx.size == 0 or gy.size == 0:
        return np.empty((0, 3, 3))
    # all (x, y) combinations of the same group
    order_y = np.argsort(gy, kind="stable")
    gy, vy = gy[order_y], vy[order_y]
    start = np.searchsorted(gy, gx)
    stop = np.searchsorted(gy, gx, side="right")
    cnt = stop - start
    ix = np.repeat(np.arange(gx.size), cnt)
    iy = np.repeat(start, cnt) + np.arange(cnt.sum()) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    grp = gx[ix]
    z, w = zi[grp], wi[grp]
    x, y = vx[ix], vy[iy]
    lo, hi = monotone_windows(q_obs - dq, q_obs + dq)
    hits = _layer_hits(q1[z], q2[z], phi[z], q_obs[w], x, y, lo, hi)
    # the best `top` pairs of each group
    order = np.lexsort((-hits, grp))
    rank = np.arange(order.size) - np.searchsorted(grp[order], grp[order])
    sel = order[rank < top]
    z, w, x, y = z[sel], w[sel], x[sel], y[sel]
    g = np.zeros((sel.size, 3, 3))
    g[:, 0, 0], g[:, 1, 1], g[:, 2, 2] = q1[z], q2[z], q_obs[w]
    g[:, 0, 1] = g[:, 1, 0] = phi[z]
    g[:, 0, 2] = g[:, 2, 0] = x
    g[:, 1, 2] = g[:, 2, 1] = y
    g = g[np.linalg.det(g) >= det_min]
    if g.shape[0] == 0:
        return g
    g = reduce_metrics(g)
    # one of each group of nearly equal reduced metrics
    diag = np.diagonal(g, axis1=1, axis2=2)
    off = np.sort(np.abs(metric_params(g)[:, 3:]) / diag.mean(axis=1, keepdims=True), axis=1)
    key = np.concatenate([np.round(np.log(diag) / 2e-3), np.round(off / 2e-3)], axis=1).astype(np.int64)
    _, first = np.unique(key, axis=0, return_index=True)
    return g[np.sort(first)]
