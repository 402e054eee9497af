"""Successive dichotomy over the parameters of a quadratic form (the idea of DICVOL).

A box ``lo ≤ p ≤ hi`` of form parameters gives every ``hkl`` an exact interval of possible
``Q`` (:mod:`pymatgen_crystalnet.indexing.forms`). An observed line with window
``[Q_lo, Q_hi]`` is *explained* by the box if some ``hkl`` interval overlaps it. A box in which
more than ``max_unindexed`` of the lines are unexplained cannot contain a solution and is
dropped; the others are halved along the parameter whose uncertainty moves the calculated
lines most, until every calculated line in range is known to within a fraction of the
observation window. Because the bounds are exact, no solution inside the search domain is
missed (up to the box cap, which is logged when reached).

Coverage is counted without a boxes × hkl × lines array: windows are sorted, so the lines an
interval ``[q_min, q_max]`` overlaps form one contiguous run found by two binary searches.
Boxes are first shrunk by the ordering of the parameters and the volume limit.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from pymatgen_crystalnet.indexing.forms import LatticeForm, feature_table

__all__ = ["SearchDomain", "dichotomy_search"]

logger = logging.getLogger(__name__)

_CHUNK_ELEMENTS = 2_000_000


@dataclass(frozen=True)
class SearchDomain:
    """Root box and limits of one search.

    Attributes
    ----------
    lo, hi
        Root box of the form parameters (Å⁻²).
    det_min, det_max
        Admissible range of ``det G*`` (= 1 / V²): the volume shell searched.
    q1_hi
        Upper end of the first line's window: the shortest reciprocal vector of any
        solution is at most this long, so the smallest unsigned parameter is below it.
    """

    lo: NDArray[np.float64]
    hi: NDArray[np.float64]
    det_min: float
    det_max: float
    q1_hi: float


def _index_bounds(form: LatticeForm, plo: NDArray[np.float64], q_lim: float) -> tuple[int, int, int]:
    """Largest |h|, |k|, |l| with Q ≤ q_lim for parameters at least ``plo``."""
    s = form.system
    if s == "cubic":
        n = int(np.sqrt(q_lim / plo[0])) + 1
        return n, n, n
    if s == "tetragonal":
        n = int(np.sqrt(q_lim / plo[0])) + 1
        return n, n, int(np.sqrt(q_lim / plo[1])) + 1
    if s == "hexagonal":
        n = int(np.sqrt(4 * q_lim / (3 * plo[0]))) + 1
        return n, n, int(np.sqrt(q_lim / plo[1])) + 1
    if s == "orthorhombic":
        return tuple(int(np.sqrt(q_lim / x)) + 1 for x in plo[:3])  # type: ignore[return-value]
    # monoclinic, reduced ac-net: A h² + C l² + D hl ≥ (3/4) A h² and ≥ (3/4) C l²
    return (
        int(np.sqrt(4 * q_lim / (3 * plo[0]))) + 1,
        int(np.sqrt(q_lim / plo[1])) + 1,
        int(np.sqrt(4 * q_lim / (3 * plo[2]))) + 1,
    )


def _chunk_features(
    feats: NDArray[np.float64], lo: NDArray[np.float64], hi: NDArray[np.float64], q_lim: float
) -> NDArray[np.float64]:
    """Features whose smallest Q over any box of the chunk is within range."""
    plo = lo.min(axis=0)
    phi = hi.max(axis=0)
    qmin = np.maximum(feats, 0) @ plo + np.minimum(feats, 0) @ phi
    return feats[qmin <= q_lim]


def _examine(
    lo: NDArray[np.float64],
    hi: NDArray[np.float64],
    feats: NDArray[np.float64],
    win_lo: NDArray[np.float64],
    win_hi: NDArray[np.float64],
    thr: float,
    q_conv: float,
) -> tuple[NDArray[np.int64], NDArray[np.bool_], NDArray[np.int64]]:
    """Unexplained lines, convergence and split dimension of each box of a chunk."""
    n_box, n = lo.shape[0], win_lo.size
    q_lim = win_hi[-1]
    fpos, fneg = np.maximum(feats, 0).T, np.minimum(feats, 0).T
    qmin = np.einsum("bj,jf->bf", lo, fpos)
    qmax = np.einsum("bj,jf->bf", hi, fpos)
    if np.any(fneg):
        qmin += np.einsum("bj,jf->bf", hi, fneg)
        qmax += np.einsum("bj,jf->bf", lo, fneg)
    bi, fi = np.nonzero(qmin <= q_lim)
    lo_r, hi_r = qmin[bi, fi], qmax[bi, fi]
    start = np.searchsorted(win_hi, lo_r)
    stop = np.searchsorted(win_lo, hi_r, side="right")
    converged = np.ones(n_box, dtype=bool)
    converged[bi[(hi_r - lo_r > thr) & (lo_r <= q_conv)]] = False
    hit = stop > start
    bi, first, last = bi[hit], start[hit], stop[hit]
    covered = np.zeros((n_box, n + 1), dtype=bool)
    covered[bi, first] = True
    extra = last - first > 1
    j = 1
    while np.any(extra):  # intervals spanning several windows (rare)
        covered[bi[extra], first[extra] + j] = True
        j += 1
        extra = last - first > j
    covered = covered[:, :n]
    unexplained = n - covered.sum(axis=1)
    fmax = np.abs(feats).max(axis=0) if feats.shape[0] else np.zeros(lo.shape[1])
    impact = (hi - lo) * fmax
    return unexplained, converged, np.argmax(impact, axis=1)


def dichotomy_search(
    form: LatticeForm,
    domain: SearchDomain,
    win_lo: NDArray[np.float64],
    win_hi: NDArray[np.float64],
    *,
    max_unindexed: int = 0,
    precision: float = 0.5,
    n_converge: int = 12,
    max_boxes: int = 50_000,
    max_levels: int = 120,
    deadline: float | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64], bool]:
    """Find all boxes of form parameters that explain the observed lines.

    Parameters
    ----------
    form
        The lattice system's quadratic form.
    domain
        Root box and limits.
    win_lo, win_hi
        Windows of the observed lines in Q (Å⁻²), sorted, both non-decreasing.
    max_unindexed
        Lines a solution may leave unexplained (impurities, outliers).
    precision
        A box is final when every calculated line in range is known to within this fraction
        of the narrowest half-window (in Q) of the observed lines.
    n_converge
        Only calculated lines up to the ``n_converge``-th observed line need that precision:
        higher lines are packed densely, constrain the cell little, and would multiply the
        number of final boxes; the least-squares refinement that follows assigns them.
    max_boxes
        Cap on live boxes per level; beyond it the boxes of largest volume are dropped (and
        a warning logged), so the search is no longer exhaustive.
    max_levels
        Cap on the number of halvings.
    deadline
        ``time.monotonic()`` value after which the search stops (not exhaustive; logged).

    Returns
    -------
    lo, hi, truncated
        Final boxes, shape ``(m, n_params)`` each, and whether the cap was hit.
    """
    q_lim = float(win_hi[-1])
    thr = precision * 0.5 * float(np.min(win_hi - win_lo))
    q_conv = float(win_hi[min(n_converge, win_hi.size) - 1])
    hmax, kmax, lmax = _index_bounds(form, domain.lo, q_lim)
    all_feats = feature_table(form, hmax, kmax, lmax)
    unsigned = ~np.array(form.signed)
    lo, hi = domain.lo[None, :].copy(), domain.hi[None, :].copy()
    done_lo: list[NDArray[np.float64]] = []
    done_hi: list[NDArray[np.float64]] = []
    truncated = False
    for _ in range(max_levels):
        if lo.shape[0] == 0:
            break
        if deadline is not None and time.monotonic() > deadline:
            truncated = True
            logger.warning("%s search stopped at the time limit; not exhaustive.", form.system)
            break
        lo, hi = form.tighten(lo, hi, domain.det_min)
        ok = np.all(lo <= hi, axis=1) & form.feasible(lo, hi)
        ok &= lo[:, unsigned].min(axis=1) <= domain.q1_hi
        det_lo, det_hi = form.det_bounds(lo, hi)
        ok &= (det_hi >= domain.det_min) & (det_lo <= domain.det_max)
        lo, hi = lo[ok], hi[ok]
        if lo.shape[0] == 0:
            break
        order = np.argsort(lo[:, 0], kind="stable")
        lo, hi = lo[order], hi[order]
        unexplained = np.empty(lo.shape[0], dtype=np.int64)
        converged = np.empty(lo.shape[0], dtype=bool)
        split = np.empty(lo.shape[0], dtype=np.int64)
        i = 0
        while i < lo.shape[0]:
            step = 8192
            while True:
                sl = slice(i, i + step)
                feats = _chunk_features(all_feats, lo[sl], hi[sl], q_lim)
                if step == 1 or min(step, lo.shape[0] - i) * feats.shape[0] <= _CHUNK_ELEMENTS:
                    break
                step = max(1, min(step // 2, _CHUNK_ELEMENTS // max(1, feats.shape[0])))
            unexplained[sl], converged[sl], split[sl] = _examine(
                lo[sl], hi[sl], feats, win_lo, win_hi, thr, q_conv
            )
            i += step
        alive = unexplained <= max_unindexed
        fin = alive & converged
        done_lo.append(lo[fin])
        done_hi.append(hi[fin])
        go = alive & ~converged
        lo, hi, dim = lo[go], hi[go], split[go]
        rows = np.arange(lo.shape[0])
        mid = 0.5 * (lo[rows, dim] + hi[rows, dim])
        lo2, hi2 = lo.copy(), hi.copy()
        hi[rows, dim] = mid
        lo2[rows, dim] = mid
        lo, hi = np.concatenate([lo, lo2]), np.concatenate([hi, hi2])
        if lo.shape[0] > max_boxes:
            truncated = True
            _, det_hi = form.det_bounds(lo, hi)
            keep = np.argsort(-det_hi)[:max_boxes]
            lo, hi = lo[keep], hi[keep]
    else:
        truncated = truncated or lo.shape[0] > 0
    if truncated:
        logger.warning("%s search hit the box cap; the search was not exhaustive.", form.system)
    if not done_lo:
        empty = np.empty((0, form.n_params))
        return empty, empty.copy(), truncated
    return np.concatenate(done_lo), np.concatenate(done_hi), truncated
