"""What a model must beat: the mismatched-pattern control's pairing and the two baselines.

On IAM densities a flat map or another crystal's density already reach the paper's SSIM range
(see ``docs/science.md``, "scores that discriminate"), so every table carries

- the **flat map** at the true mean density of each crystal (:func:`flat_map`);
- the **truth of another crystal** of the same crystal system, taken fractional grid to
  fractional grid as it is (:func:`other_crystal_grid`), scored with the same rotation (and
  shift) search as the model;
- the **control**: the model's prediction for each crystal made from another crystal's
  pattern (same system) with the crystal's own composition. :func:`control_partners` fixes
  who is paired with whom; the other-crystal baseline uses the same partners.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike, NDArray

if TYPE_CHECKING:
    import torch

__all__ = ["control_partners", "flat_map", "fractional_grid_points", "other_crystal_grid"]


def control_partners(systems: Sequence[str] | ArrayLike, seed: int = 0) -> NDArray[np.int64]:
    """Pair every crystal with another crystal of the same system, deterministically.

    Within each system the members are put in a seeded random order and each is paired with
    the next one, the last with the first: a single cycle, so no crystal is its own partner
    and every crystal serves as a partner exactly once. The order of a system depends only on
    ``seed``, the system's name and its members (not on the other systems).

    Parameters
    ----------
    systems
        Crystal system of each crystal.
    seed
        Seed of the pairing.

    Returns
    -------
    numpy.ndarray
        Index of each crystal's partner, or −1 for a crystal alone in its system.
    """
    labels = np.asarray(systems, dtype=str)
    out = np.full(labels.shape[0], -1, dtype=np.int64)
    for system in sorted(set(labels.tolist())):
        members = np.flatnonzero(labels == system)
        if members.size < 2:
            continue
        rng = np.random.default_rng([seed, zlib.crc32(system.encode())])
        cycle = members[rng.permutation(members.size)]
        out[cycle] = np.roll(cycle, -1)
    return out


def flat_map(truth: torch.Tensor) -> torch.Tensor:
    """A constant map at the mean of each truth grid: ``(..., n, n, n)`` → the same shape."""
    return truth.mean(dim=(-3, -2, -1), keepdim=True).expand_as(truth)


def fractional_grid_points(n: int) -> NDArray[np.float64]:
    """The n³ fractional points (i/n, j/n, k/n) in C order, shape ``(n³, 3)``."""
    axis = np.arange(n, dtype=np.float64) / n
    return np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), axis=-1).reshape(-1, 3)


def other_crystal_grid(grid: ArrayLike, n: int) -> NDArray[np.float64]:
    """Another crystal's density taken onto this crystal's n³ grid, fractional to fractional.

    The grid is used as it is when it already has n points per axis; otherwise it is
    interpolated trilinearly (periodically) at the fractional points (i/n, j/n, k/n).
    """
    from pymatgen_crystalnet.data.reader import trilinear_periodic

    g = np.asarray(grid, dtype=np.float64)
    if g.shape == (n, n, n):
        return g
    return trilinear_periodic(g, fractional_grid_points(n)).reshape(n, n, n)
