"""The readers' rule for negative intensities (io/negative_intensities.py)."""

from __future__ import annotations

import numpy as np
import pytest

from pymatgen_crystalnet.io.negative_intensities import NEGATIVE_TOLERANCE, clip_negatives


def test_clip_negatives_rules():
    ok = np.array([0.0, 100.0, 3.0])
    assert clip_negatives(ok, raw=True, where="t") is ok
    small = np.array([-NEGATIVE_TOLERANCE * 100.0 + 0.1, 100.0, -1.0])
    assert clip_negatives(small, raw=False, where="t").tolist() == [0.0, 100.0, 0.0]
    with pytest.raises(ValueError, match="Raw counts"):
        clip_negatives(small, raw=True, where="t")
    with pytest.raises(ValueError, match="below"):
        clip_negatives(np.array([-5.1, 100.0, 1.0]), raw=False, where="t")
    with pytest.raises(ValueError, match="NaN or infinite"):
        clip_negatives(np.array([np.nan, 1.0, 1.0]), raw=False, where="t")
