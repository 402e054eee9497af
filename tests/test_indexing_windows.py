"""Line windows: which windows a calculated Q interval meets, as bit masks."""

from __future__ import annotations

import numpy as np

from pymatgen_crystalnet.indexing.windows import hit_mask, popcount


def test_hit_mask_and_popcount() -> None:
    lo, hi = np.array([1.0, 2.0, 3.0]), np.array([1.5, 2.5, 3.5])
    bits = hit_mask(np.array([1.2, 1.6, 1.4, 0.0]), np.array([1.3, 1.9, 3.1, 0.5]), lo, hi)
    assert bits.tolist() == [0b001, 0, 0b111, 0]
    assert popcount(bits).tolist() == [1, 0, 3, 0]

