"""From the final boxes of a dichotomy to the starting points of refinement.

Final boxes crowd into regions of parameter space. One box per cell of a grid twice the
median box size represents each crowd. The representatives are ranked by the number of
calculated lines up to the last search line that the cell needs to explain the lines — the
``N20`` of de Wolff's M20, so fewest first: for each centring the form admits, the
reflections it allows are counted, and the centring is usable if those reflections still
meet all but ``max_unindexed`` of the windows; the smallest count of a usable centring ranks
the box, the smaller volume breaking ties. Counting allowed reflections rather than the
volume keeps centred cells (half or a quarter of the lines of a primitive cell of that
volume) from being crowded out by smaller primitive cells of no better merit.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from pymatgen_crystalnet.indexing.forms import LatticeForm, centring_allows
from pymatgen_crystalnet.indexing.windows import hit_mask, popcount

__all__ = ["representatives"]


def _grid_representatives(lo: NDArray[np.float64], hi: NDArray[np.float64]) -> NDArray[np.int64]:
    """One box per cell of a grid four times the median box size."""
    centres = 0.5 * (lo + hi)
    cell = np.maximum(4.0 * np.median(hi - lo, axis=0), 1e-12)
    key = np.floor(centres / cell).astype(np.int64)
    _, first = np.unique(key, axis=0, return_index=True)
    return np.sort(first)


def representatives(
    form: LatticeForm,
    lo: NDArray[np.float64],
    hi: NDArray[np.float64],
    feats: NDArray[np.float64],
    win_lo: NDArray[np.float64],
    win_hi: NDArray[np.float64],
    q_last: float,
    max_unindexed: int,
    limit: int,
    *,
    max_examined: int = 5000,
    chunk: int = 1024,
) -> NDArray[np.float64]:
    """Centres of at most ``limit`` representative final boxes, the most promising first.

    Parameters
    ----------
    form
        The quadratic form searched.
    lo, hi
        Final boxes of the dichotomy.
    feats
        Feature vectors of the reflections the search used.
    win_lo, win_hi
        Windows of the search lines in Q (sorted, non-decreasing ends).
    q_last
        ``Q`` of the last search line (calculated lines are counted up to it).
    max_unindexed
        Windows a usable centring may leave unmet.
    limit
        Representatives returned.
    max_examined
        Grid representatives ranked (the smallest cells, if there are more).
    """
    pick = _grid_representatives(lo, hi)
    lo, hi = lo[pick], hi[pick]
    if lo.shape[0] > max_examined:
        mid = 0.5 * (lo + hi)
        det, _ = form.det_bounds(mid, mid)
        keep = np.argsort(-det, kind="stable")[:max_examined]
        lo, hi = lo[keep], hi[keep]
    n_lines = win_lo.size
    centrings = [c for c in form.centrings if c != "Rrev"]
    masks = [centring_allows(form.system, feats, c) for c in centrings]
    fpos_all, fneg_all = np.maximum(feats, 0), np.minimum(feats, 0)
    count = np.full(lo.shape[0], np.inf)
    order = np.lexsort(lo.T[::-1])  # neighbours share their reflection lists
    lo, hi = lo[order], hi[order]
    for s in range(0, lo.shape[0], chunk):
        a, b = lo[s : s + chunk], hi[s : s + chunk]
        near = fpos_all @ a.min(axis=0) + fneg_all @ b.max(axis=0) <= win_hi[-1]
        fpos, fneg = fpos_all[near].T, fneg_all[near].T
        qmin = a @ fpos + b @ fneg
        qmax = b @ fpos + a @ fneg
        bits = hit_mask(qmin, qmax, win_lo, win_hi)
        centre = 0.5 * (qmin + qmax) <= q_last
        best = np.full(a.shape[0], np.inf)
        for mask_all in masks:
            mask = mask_all[near]
            met = popcount(np.bitwise_or.reduce(np.where(mask[None, :], bits, 0), axis=1))
            n_calc = np.count_nonzero(centre & mask[None, :], axis=1).astype(np.float64)
            best = np.where(met >= n_lines - max_unindexed, np.minimum(best, n_calc), best)
        count[s : s + chunk] = best
    centres = 0.5 * (lo + hi)
    det, _ = form.det_bounds(centres, centres)
    order = np.lexsort((-det, count))
    order = order[np.isfinite(count[order])][:limit]
    return centres[order]
