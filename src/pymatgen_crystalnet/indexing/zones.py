"""Zones of the reciprocal lattice found from observed lines (Ito's relation).

A *zone* is a plane of the reciprocal lattice through the origin, a two-dimensional lattice
with basis ``u, v``; its lines have ``Q(m u + n v) = m² q1 + n² q2 + 2 m n φ`` with
``q1 = Q(u)``, ``q2 = Q(v)``, ``φ = u·v``. The parallelogram law gives Ito's relation
(Ito 1949; de Wolff 1957; Visser 1969):

    Q(m u + n v) + Q(m u − n v) = 2 (m² q1 + n² q2)

so when two observed lines ``Q+`` and ``Q−`` sum to ``2 (m² q1 + n² q2)`` for two other
observed lines ``q1, q2`` (or a quarter of one of them, when only the second order of a row
is observed), the four lines may lie in one zone with ``φ = (Q+ − Q−) / (4 m n)``. Every
such coincidence among the first lines proposes a zone; zones are reduced (Gauss:
``0 ≤ 2φ ≤ q1 ≤ q2``), merged, and scored by the number of observed lines they index beyond
what a random zone of the same density would index by chance: a 2-D lattice has
``π Q / (2 S)`` distinct lines up to ``Q`` (``S = √(q1 q2 − φ²)``, Friedel pairs counted
once), so a line of window width ``w`` is met by chance with probability
``1 − exp(−π w / (2 S))``; a zone's score is how improbable its count of lines met is for
a random zone of its density (``−log`` of the Poisson tail), which weighs a coarse zone
meeting a few lines against a fine one meeting many.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.stats import poisson

from pymatgen_crystalnet.indexing.windows import hit_mask, monotone_windows, popcount

__all__ = [
    "Zones",
    "find_zones",
    "reduce_zones",
    "refine_zones",
    "score_zones",
    "superzones",
    "suppress_duplicates",
    "zone_points",
]

#: Coprime multipliers (m, n) used in Ito's relation.
_MN = ((1, 1), (1, 2), (2, 1), (1, 3), (3, 1), (2, 3), (3, 2))


@dataclass(frozen=True)
class Zones:
    """Reduced zones (``0 ≤ 2φ ≤ q1 ≤ q2``), best first, with their scores."""

    q1: NDArray[np.float64]
    q2: NDArray[np.float64]
    phi: NDArray[np.float64]
    n_indexed: NDArray[np.int64]
    score: NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.q1.size)


def reduce_zones(
    q1: NDArray[np.float64], q2: NDArray[np.float64], phi: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Gauss-reduce 2-D metrics ``(q1, q2, φ)`` to ``0 ≤ 2φ ≤ q1 ≤ q2`` (vectorised)."""
    q1, q2, phi = (np.array(x, dtype=np.float64, copy=True) for x in (q1, q2, phi))
    for _ in range(64):
        swap = q1 > q2
        q1[swap], q2[swap] = q2[swap], q1[swap].copy()
        r = np.round(phi / q1)
        if not np.any(r):
            break
        q2 = q2 - 2 * r * phi + r * r * q1
        phi = phi - r * q1
    return q1, q2, np.abs(phi)


def zone_points(m_max: int, n_max: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Indices ``(m, n)`` of one of each ± pair of zone points, ``|m| ≤ m_max``, ``0 ≤ n ≤ n_max``."""
    m, n = np.meshgrid(np.arange(-m_max, m_max + 1), np.arange(0, n_max + 1), indexing="ij")
    m, n = m.ravel(), n.ravel()
    keep = (n > 0) | (m > 0)
    return m[keep], n[keep]


def _bounds(q1: NDArray[np.float64], q2: NDArray[np.float64], q_max: float, cap: int) -> tuple[int, int]:
    # reduced zones: Q(m u + n v) ≥ (3/4) m² q1 and ≥ (3/4) n² q2
    m_max = int(min(cap, np.sqrt(4 * q_max / (3 * q1.min())) + 1))
    n_max = int(min(cap, np.sqrt(4 * q_max / (3 * q2.min())) + 1))
    return m_max, n_max


def score_zones(
    q1: NDArray[np.float64],
    q2: NDArray[np.float64],
    phi: NDArray[np.float64],
    q_obs: NDArray[np.float64],
    dq: NDArray[np.float64],
    *,
    chunk: int = 2048,
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Lines indexed by each reduced zone, and how surprising that count is by chance.

    The score is ``−log P(X ≥ n)`` for the count ``X`` of lines a random zone of the same
    density would meet (Poisson with the summed chance of each line's window).

    ``q_obs`` must be sorted with windows ``q_obs ± dq`` (at most 62 lines).
    """
    lo, hi = monotone_windows(q_obs - dq, q_obs + dq)
    n_idx = np.zeros(q1.size, dtype=np.int64)
    for s in range(0, q1.size, chunk):
        a, b, f = q1[s : s + chunk], q2[s : s + chunk], phi[s : s + chunk]
        m, k = zone_points(*_bounds(a, b, float(hi[-1]), 12))
        q = np.outer(a, m * m) + np.outer(b, k * k) + 2 * np.outer(f, m * k)
        covered = np.bitwise_or.reduce(hit_mask(q, q, lo, hi), axis=1)
        n_idx[s : s + chunk] = popcount(covered)
    area = np.sqrt(np.maximum(q1 * q2 - phi * phi, 1e-30))
    chance = (1.0 - np.exp(-np.pi * (2 * dq)[None, :] / (2 * area[:, None]))).sum(axis=1)
    # surprise of the count: −log P(X ≥ n) for X ~ Poisson(expected chance hits)
    return n_idx, -poisson.logsf(n_idx - 1, np.maximum(chance, 1e-9))


def suppress_duplicates(
    q1: NDArray[np.float64],
    q2: NDArray[np.float64],
    phi: NDArray[np.float64],
    rel: float,
    limit: int | None = None,
) -> NDArray[np.int64]:
    """Indices of the zones kept when each zone (in the given order) drops its near-copies.

    Near-copies have ``q1`` and ``q2`` within ``rel`` (relative) and ``φ`` within
    ``rel · √(q1 q2)``; at most ``limit`` zones are kept.
    """
    kept: list[int] = []
    for i in range(q1.size):
        if kept:
            k = np.asarray(kept)
            same = (
                (np.abs(q1[k] - q1[i]) <= rel * q1[i])
                & (np.abs(q2[k] - q2[i]) <= rel * q2[i])
                & (np.abs(phi[k] - phi[i]) <= rel * np.sqrt(q1[i] * q2[i]))
            )
            if np.any(same):
                continue
        kept.append(i)
        if limit is not None and len(kept) >= limit:
            break
    return np.asarray(kept, dtype=np.int64)


def refine_zones(
    q1: NDArray[np.float64],
    q2: NDArray[np.float64],
    phi: NDArray[np.float64],
    q_obs: NDArray[np.float64],
    dq: NDArray[np.float64],
    n_passes: int = 2,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Least-squares refinement of each zone on the lines its points meet (then reduced).

    Each line within its window of a zone point is assigned to the nearest point; the zone
    metric is fitted linearly (``Q = m² q1 + n² q2 + 2 m n φ``), weighted by ``1/dq²``.
    A zone with fewer than four assigned lines, or whose fit is not a lattice, is kept as is.
    """
    q1, q2, phi = q1.copy(), q2.copy(), phi.copy()
    q_max = float((q_obs + dq).max())
    w = 1.0 / dq
    for i in range(q1.size):
        p = np.array([q1[i], q2[i], phi[i]])
        m, n = zone_points(*_bounds(q1[i : i + 1], q2[i : i + 1], q_max, 12))
        design = np.stack([m * m, n * n, 2 * m * n], axis=1).astype(np.float64)
        for _ in range(n_passes):
            qc = design @ p
            near = np.argmin(np.abs(q_obs[:, None] - qc[None, :]), axis=1)
            ok = np.abs(q_obs - qc[near]) <= dq
            if np.count_nonzero(ok) < 4:
                break
            a = design[near[ok]] * w[ok, None]
            sol, *_ = np.linalg.lstsq(a, q_obs[ok] * w[ok], rcond=None)
            if not (sol[0] > 0 and sol[1] > 0 and sol[0] * sol[1] > sol[2] ** 2):
                break
            p = sol
        q1[i], q2[i], phi[i] = p
    return reduce_zones(q1, q2, phi)


def find_zones(
    q_obs: NDArray[np.float64],
    dq: NDArray[np.float64],
    *,
    n_base: int = 10,
    max_zones: int = 40,
    min_q: float = 0.0,
) -> Zones:
    """Zones proposed by Ito's relation among the lines, reduced, merged and ranked.

    Parameters
    ----------
    q_obs, dq
        Sorted observed ``Q = 1/d²`` (Å⁻²) and their window half-widths (at most 62 lines).
    n_base
        Lines (and quarters of lines) that may be the two basis rows ``q1, q2``.
    max_zones
        Zones returned (the best by score).
    min_q
        Smallest admissible ``q1`` (from the longest cell edge searched).
    """
    n = q_obs.size
    nb = min(n_base, n)
    base = np.concatenate([q_obs[:nb], q_obs[:nb] / 4])
    dbase = np.concatenate([dq[:nb], dq[:nb] / 4])
    bi, bj = np.triu_indices(base.size)
    ki, kj = np.triu_indices(n)  # lines k ≤ l; Q+ = q[l], Q− = q[k]
    s_obs = q_obs[ki] + q_obs[kj]
    ds_obs = dq[ki] + dq[kj]
    order = np.argsort(s_obs)
    s_sorted = s_obs[order]
    out_q1, out_q2, out_phi = [], [], []
    for m, k in _MN:
        target = 2 * (m * m * base[bi] + k * k * base[bj])
        tol = 2 * (m * m * dbase[bi] + k * k * dbase[bj]) + 2 * ds_obs.max()
        lo = np.searchsorted(s_sorted, target - tol)
        hi = np.searchsorted(s_sorted, target + tol, side="right")
        counts = hi - lo
        if not counts.sum():
            continue
        rows = np.repeat(np.arange(target.size), counts)
        offs = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        pair = order[np.repeat(lo, counts) + offs]
        exact = np.abs(s_obs[pair] - target[rows]) <= (
            2 * (m * m * dbase[bi[rows]] + k * k * dbase[bj[rows]]) + ds_obs[pair]
        )
        rows, pair = rows[exact], pair[exact]
        out_q1.append(base[bi[rows]])
        out_q2.append(base[bj[rows]])
        out_phi.append((q_obs[kj[pair]] - q_obs[ki[pair]]) / (4 * m * k))
    if not out_q1:
        empty = np.empty(0)
        return Zones(empty, empty, empty, np.empty(0, dtype=np.int64), empty)
    q1, q2, phi = (np.concatenate(x) for x in (out_q1, out_q2, out_phi))
    ok = q1 * q2 - phi * phi > 1e-3 * q1 * q2
    q1, q2, phi = reduce_zones(q1[ok], q2[ok], phi[ok])
    ok = q1 >= min_q
    q1, q2, phi = q1[ok], q2[ok], phi[ok]
    # merge the proposals coarsely, refine the best, merge again
    n_idx, score = score_zones(q1, q2, phi, q_obs, dq)
    order = np.argsort(-score, kind="stable")
    keep = order[suppress_duplicates(q1[order], q2[order], phi[order], 5e-3, limit=4 * max_zones)]
    q1, q2, phi = refine_zones(q1[keep], q2[keep], phi[keep], q_obs, dq)
    n_idx, score = score_zones(q1, q2, phi, q_obs, dq)
    order = np.argsort(-score, kind="stable")
    best = order[suppress_duplicates(q1[order], q2[order], phi[order], 2e-3, limit=max_zones)]
    return Zones(q1[best], q2[best], phi[best], n_idx[best], score[best])


def superzones(
    q1: NDArray[np.float64], q2: NDArray[np.float64], phi: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
    """Each zone and the zones that contain it with index 2 and (u/2, v/2) with index 4.

    A zone found from the observed lines may miss half of its rows: reflection conditions of
    a centred lattice or a glide plane remove them. The zones with half a basis vector added
    restore them. Returns reduced ``(q1, q2, φ)`` and the index of the parent zone.
    """
    parent = np.arange(q1.size)
    cand = [
        (q1, q2, phi),
        (q1 / 4, q2, phi / 2),  # u/2
        (q1, q2 / 4, phi / 2),  # v/2
        ((q1 + q2 + 2 * phi) / 4, q2, (phi + q2) / 2),  # (u+v)/2
        (q1 / 4, q2 / 4, phi / 4),  # u/2 and v/2
    ]
    a, b, f = (np.concatenate([c[i] for c in cand]) for i in range(3))
    a, b, f = reduce_zones(a, b, f)
    return a, b, f, np.tile(parent, len(cand))
