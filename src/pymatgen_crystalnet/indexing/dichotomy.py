"""Successive dichotomy over the parameters of a quadratic form (the idea of DICVOL).

A box ``lo ≤ p ≤ hi`` of form parameters gives every ``hkl`` an exact interval of possible
``Q`` (:mod:`pymatgen_crystalnet.indexing.forms`). An observed line with window
``[Q_lo, Q_hi]`` is *explained* by the box if some ``hkl`` interval overlaps it. A box in which
more than the allowed number of lines are unexplained cannot contain a solution and is
dropped; the others are halved along the parameter whose uncertainty moves the calculated
lines most, until every calculated line that meets an observed window (up to the
``n_converge``-th line) is known to within a fraction of the narrowest window. Because the
bounds are exact, no solution inside the search domain is missed.

Implementation notes:

* Boxes are examined in chunks, depth first (a stack of sibling arrays), so memory stays
  bounded without a cap on the number of boxes; a wall-clock limit or a budget of boxes
  per call stops a search early (the rest stays on the stack for a later call).
* Within a chunk the boxes are sorted by the lower ends of their parameters, and only the
  ``hkl`` that can fall below the last window for the chunk's smallest parameters are
  examined: a box with large reciprocal parameters (a small cell) sees few reflections.
* The lines an interval ``[q_min, q_max]`` overlaps form one contiguous run of the sorted
  windows, found by two binary searches and stored as a bit mask, so a box's explained
  lines are an OR over its reflections.
* Unexplained-line counts can only grow as boxes shrink (a child's intervals lie inside its
  parent's). A box dropped for leaving ``c`` lines unexplained is kept aside when ``c`` is
  within the largest allowance the caller may ask for later, and :meth:`DichotomySearch.run`
  with a larger allowance resumes from those boxes instead of searching again from the root.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from pymatgen_crystalnet.indexing.forms import LatticeForm, feature_table
from pymatgen_crystalnet.indexing.windows import MAX_LINES, popcount

__all__ = ["DichotomySearch", "SearchDomain", "dichotomy_search"]

logger = logging.getLogger(__name__)

#: Boxes × reflections examined at once.
_CHUNK_ELEMENTS = 1_000_000
#: Most lines a search can use (unexplained lines are counted in a 64-bit mask).
MAX_SEARCH_LINES = MAX_LINES


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


class DichotomySearch:
    """A resumable dichotomy search of one volume shell of one lattice system.

    Parameters
    ----------
    form
        The lattice system's quadratic form.
    domain
        Root box and limits.
    win_lo, win_hi
        Windows of the observed lines in Q (Å⁻²), sorted, both non-decreasing; at most
        :data:`MAX_SEARCH_LINES`.
    max_unindexed_total
        The largest allowance of unexplained lines :meth:`run` will be asked for; boxes
        within it are kept aside when dropped at a smaller allowance.
    precision
        A box is final when every calculated line that meets a window (up to the
        ``n_converge``-th) is known to within this fraction of the narrowest half-window.
    n_converge
        Only calculated lines up to the ``n_converge``-th observed line need that precision:
        higher lines are packed densely, constrain the cell little, and would multiply the
        number of final boxes; the least-squares refinement that follows assigns them.
    """

    def __init__(
        self,
        form: LatticeForm,
        domain: SearchDomain,
        win_lo: NDArray[np.float64],
        win_hi: NDArray[np.float64],
        *,
        max_unindexed_total: int = 0,
        precision: float = 0.5,
        n_converge: int = 12,
    ) -> None:
        n = win_lo.size
        if n > MAX_SEARCH_LINES:
            raise ValueError(f"A dichotomy search uses at most {MAX_SEARCH_LINES} lines; got {n}.")
        self.form = form
        self.domain = domain
        self.win_lo = np.asarray(win_lo, dtype=np.float64)
        self.win_hi = np.asarray(win_hi, dtype=np.float64)
        self.q_lim = float(self.win_hi[-1])
        self.thr = precision * 0.5 * float(np.min(self.win_hi - self.win_lo))
        self.q_conv = float(self.win_hi[min(n_converge, n) - 1])
        self.max_total = int(max_unindexed_total)
        self._pow2 = np.left_shift(np.int64(1), np.arange(n + 1, dtype=np.int64))
        hmax, kmax, lmax = _index_bounds(form, domain.lo, self.q_lim)
        feats = feature_table(form, hmax, kmax, lmax)
        self._feats = feats[self._qmin_floor(feats, domain.lo, domain.hi) <= self.q_lim]
        self._unsigned = ~np.array(form.signed)
        self._stack: list[tuple[NDArray[np.float64], NDArray[np.float64]]] = [
            (domain.lo[None, :].copy(), domain.hi[None, :].copy())
        ]
        self._stash: dict[int, list[tuple[NDArray[np.float64], NDArray[np.float64]]]] = {}
        self.boxes_examined = 0

    @property
    def features(self) -> NDArray[np.float64]:
        """Feature vectors of the reflections the search examines (read-only)."""
        return self._feats

    @staticmethod
    def _qmin_floor(
        feats: NDArray[np.float64], plo: NDArray[np.float64], phi: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        return np.maximum(feats, 0) @ plo + np.minimum(feats, 0) @ phi

    def _prepare(
        self, lo: NDArray[np.float64], hi: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Shrink boxes by the domain's constraints and drop the empty or infeasible ones."""
        form, dom = self.form, self.domain
        lo, hi = form.tighten(lo, hi, dom.det_min)
        ok = np.all(lo <= hi, axis=1) & form.feasible(lo, hi)
        ok &= lo[:, self._unsigned].min(axis=1) <= dom.q1_hi
        det_lo, det_hi = form.det_bounds(lo, hi)
        ok &= (det_hi >= dom.det_min) & (det_lo <= dom.det_max)
        lo, hi = lo[ok], hi[ok]
        if lo.shape[0] > 1:  # neighbours in parameter space share their reflection lists
            key = np.floor(4 * np.log2(np.maximum(lo[:, self._unsigned], 1e-12))).astype(np.int64)
            order = np.lexsort(key.T[::-1])
            lo, hi = lo[order], hi[order]
        return lo, hi

    def _examine(
        self, lo: NDArray[np.float64], hi: NDArray[np.float64], feats: NDArray[np.float64]
    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Unexplained lines of each box of a chunk, and the parameter to halve (-1: final).

        The parameter halved is the one that contributes most to the width of the widest
        calculated line that meets a window and is not yet known to the required precision.
        """
        n_box, n = lo.shape[0], self.win_lo.size
        fpos, fneg = np.maximum(feats, 0).T, np.minimum(feats, 0).T
        qmin = np.einsum("bj,jf->bf", lo, fpos)
        qmax = np.einsum("bj,jf->bf", hi, fpos)
        if np.any(fneg):
            qmin += np.einsum("bj,jf->bf", hi, fneg)
            qmax += np.einsum("bj,jf->bf", lo, fneg)
        bi, fi = np.nonzero(qmin <= self.q_lim)
        lo_r, hi_r = qmin[bi, fi], qmax[bi, fi]
        start = np.searchsorted(self.win_hi, lo_r)
        stop = np.searchsorted(self.win_lo, hi_r, side="right")
        hit = stop > start
        bi, fi, start, stop = bi[hit], fi[hit], start[hit], stop[hit]
        covered = np.zeros(n_box, dtype=np.int64)
        split = np.full(n_box, -1, dtype=np.int64)
        if bi.size:
            bits = self._pow2[stop] - self._pow2[start]  # windows start … stop-1
            firsts = np.flatnonzero(np.concatenate([[True], bi[1:] != bi[:-1]]))
            covered[bi[firsts]] = np.bitwise_or.reduceat(bits, firsts)
            lo_r, hi_r = lo_r[hit], hi_r[hit]
            wide = (hi_r - lo_r > self.thr) & (lo_r <= self.q_conv)
            if np.any(wide):
                bw, fw = bi[wide], fi[wide]
                contrib = (hi[bw] - lo[bw]) * np.abs(feats[fw])
                firsts = np.flatnonzero(np.concatenate([[True], bw[1:] != bw[:-1]]))
                split[bw[firsts]] = np.argmax(np.maximum.reduceat(contrib, firsts, axis=0), axis=1)
        return n - popcount(covered), split

    def _split(
        self, lo: NDArray[np.float64], hi: NDArray[np.float64], dim: NDArray[np.int64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        rows = np.arange(lo.shape[0])
        mid = 0.5 * (lo[rows, dim] + hi[rows, dim])
        lo2, hi2 = lo.copy(), hi.copy()
        hi = hi.copy()
        hi[rows, dim] = mid
        lo2[rows, dim] = mid
        return np.concatenate([lo, lo2]), np.concatenate([hi, hi2])

    def run(
        self, max_unindexed: int = 0, deadline: float | None = None, max_boxes: int | None = None
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], bool]:
        """Search (or resume) with ``max_unindexed`` unexplained lines allowed.

        Returns the final boxes found by this call (not those of earlier calls) and whether
        the search was cut short by the deadline or by ``max_boxes`` (boxes examined in this
        call); the boxes not yet examined stay for a later call.
        """
        for c in sorted(self._stash):
            if c <= max_unindexed:
                self._stack.extend(self._stash.pop(c))
        done_lo: list[NDArray[np.float64]] = []
        done_hi: list[NDArray[np.float64]] = []
        truncated = False
        start = self.boxes_examined
        while self._stack:
            if deadline is not None and time.monotonic() > deadline:
                truncated = True
                logger.warning("%s search stopped at the time limit; not exhaustive.", self.form.system)
                break
            if max_boxes is not None and self.boxes_examined - start >= max_boxes:
                truncated = True
                logger.info("%s search stopped after %d boxes; not exhaustive.", self.form.system, max_boxes)
                break
            lo, hi = self._prepare(*self._stack.pop())
            i = 0
            while i < lo.shape[0]:
                step = 4096
                while True:
                    sl = slice(i, i + step)
                    plo, phi = lo[sl].min(axis=0), hi[sl].max(axis=0)
                    feats = self._feats[self._qmin_floor(self._feats, plo, phi) <= self.q_lim]
                    if step <= 8 or min(step, lo.shape[0] - i) * feats.shape[0] <= _CHUNK_ELEMENTS:
                        break
                    step = max(8, min(step // 2, _CHUNK_ELEMENTS // max(1, feats.shape[0])))
                clo, chi = lo[sl], hi[sl]
                i += step
                self.boxes_examined += clo.shape[0]
                unexplained, split = self._examine(clo, chi, feats)
                dead = unexplained > max_unindexed
                for c in np.unique(unexplained[dead & (unexplained <= self.max_total)]):
                    pick = unexplained == c
                    self._stash.setdefault(int(c), []).append((clo[pick], chi[pick]))
                fin = ~dead & (split < 0)
                if np.any(fin):
                    done_lo.append(clo[fin])
                    done_hi.append(chi[fin])
                go = ~dead & (split >= 0)
                if np.any(go):
                    self._stack.append(self._split(clo[go], chi[go], split[go]))
        if not done_lo:
            empty = np.empty((0, self.form.n_params))
            return empty, empty.copy(), truncated
        return np.concatenate(done_lo), np.concatenate(done_hi), truncated


def dichotomy_search(
    form: LatticeForm,
    domain: SearchDomain,
    win_lo: NDArray[np.float64],
    win_hi: NDArray[np.float64],
    *,
    max_unindexed: int = 0,
    precision: float = 0.5,
    n_converge: int = 12,
    deadline: float | None = None,
    max_boxes: int | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64], bool]:
    """Find all boxes of form parameters that explain the observed lines (one-shot search).

    See :class:`DichotomySearch` for the parameters; returns the final boxes, shape
    ``(m, n_params)`` each, and whether the deadline cut the search short.
    """
    search = DichotomySearch(
        form,
        domain,
        win_lo,
        win_hi,
        max_unindexed_total=max_unindexed,
        precision=precision,
        n_converge=n_converge,
    )
    return search.run(max_unindexed, deadline, max_boxes)
