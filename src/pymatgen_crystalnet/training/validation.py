"""Validation scores used during training: the evaluation package's batched scores.

One implementation serves training and evaluation: everything here is imported from
:mod:`pymatgen_crystalnet.evaluation.metrics` (see there for the definitions). The trainer uses
:func:`rotation_scores` (every score of every sample, best over the 24 rotations of the cubic
grid) and :func:`best_scores` (the best sample per crystal, each score on its own).
"""

from __future__ import annotations

from pymatgen_crystalnet.evaluation.metrics import (
    best_scores,
    cube_rotations,
    map_cc,
    nmae,
    psnr,
    rotation_scores,
    ssim3d,
)

__all__ = [
    "best_scores",
    "cube_rotations",
    "map_cc",
    "nmae",
    "psnr",
    "rotation_scores",
    "ssim3d",
]
