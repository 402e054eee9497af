"""The scikit-image reference of the batched torch scores (one grid, one rotation at a time).

Kept as the definition the torch implementation (:mod:`.density_metrics`, :mod:`.alignment`) is
tested and benchmarked against; slow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from pymatgen_crystalnet.scoring.density_metrics import LOWER_IS_BETTER
from pymatgen_crystalnet.scoring.rotations import rotations

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

__all__ = ["reference_scores"]


def reference_scores(
    prediction: ArrayLike, truth: ArrayLike, *, rotate: bool = True, win_size: int = 7
) -> dict[str, float]:
    """The scikit-image loop: one grid against its truth, best over the 24 rotations.

    ``skimage.metrics.structural_similarity(win_size=7, data_range=max − min of the truth)``,
    ``skimage.metrics.peak_signal_noise_ratio`` with the same range, ``numpy.corrcoef`` and the
    NMAE, one rotation at a time. Kept as the reference of the torch implementation (tests,
    benchmark); slow.
    """
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    y = np.asarray(truth, dtype=np.float64)
    x0 = np.asarray(prediction, dtype=np.float64)
    data_range = float(y.max() - y.min())
    best: dict[str, float] = {}
    for rot in rotations() if rotate else rotations()[:1]:
        x = np.ascontiguousarray(rot.apply(x0))
        scores = {
            "ssim": float(structural_similarity(x, y, win_size=win_size, data_range=data_range)),
            "psnr": float(peak_signal_noise_ratio(y, x, data_range=data_range)),
            "cc": float(np.corrcoef(x.ravel(), y.ravel())[0, 1]) if x.std() > 0 else 0.0,
            "nmae": float(np.abs(x - y).sum() / y.sum()),
        }
        for key, value in scores.items():
            if key not in best:
                best[key] = value
            elif key in LOWER_IS_BETTER:
                best[key] = min(best[key], value)
            else:
                best[key] = max(best[key], value)
    return best
