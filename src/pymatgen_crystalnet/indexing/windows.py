"""Which observed-line windows a calculated value or interval meets, as 64-bit masks.

Observed lines become windows ``[lo_i, hi_i]`` in ``Q``, sorted and with both ends
non-decreasing; the windows an interval ``[a, b]`` meets are then one contiguous run
``start … stop−1`` found by two binary searches, stored as the bit mask
``2^stop − 2^start``. OR-ing the masks of a cell's reflections and counting bits gives the
number of lines it explains.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["MAX_LINES", "hit_mask", "monotone_windows", "popcount"]

#: Most lines a mask holds.
MAX_LINES = 62


def monotone_windows(
    lo: NDArray[np.float64], hi: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Widen windows of sorted lines so that both ends are non-decreasing."""
    lo, hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
    return np.minimum.accumulate(lo[::-1])[::-1], np.maximum.accumulate(hi)


def hit_mask(
    a: NDArray[np.float64], b: NDArray[np.float64], lo: NDArray[np.float64], hi: NDArray[np.float64]
) -> NDArray[np.int64]:
    """Bit mask of the windows ``[lo_i, hi_i]`` that the intervals ``[a, b]`` meet (any shape)."""
    if lo.size > MAX_LINES:
        raise ValueError(f"At most {MAX_LINES} lines fit a mask; got {lo.size}.")
    pow2 = np.left_shift(np.int64(1), np.arange(lo.size + 1, dtype=np.int64))
    start = np.searchsorted(hi, a)
    stop = np.searchsorted(lo, b, side="right")
    return np.where(stop > start, pow2[stop] - pow2[start], 0)


def popcount(x: NDArray[np.int64]) -> NDArray[np.int64]:
    """Number of set bits of each (non-negative) 64-bit integer."""
    x = np.asarray(x, dtype=np.int64)
    if hasattr(np, "bitwise_count"):  # numpy >= 2.0
        return np.bitwise_count(x).astype(np.int64)
    flat = x.reshape(-1).view(np.uint8).reshape(-1, 8)
    return np.unpackbits(flat, axis=1).sum(axis=1).astype(np.int64).reshape(x.shape)
