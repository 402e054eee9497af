"""Periodic peaks of a density grid: sub-voxel positions, heights and electrons per basin.

The grid is an ``(n₁, n₂, n₃)`` array of e/Å³ at the fractional points ``(i/n₁, j/n₂, k/n₃)``
of a periodic cell.

- **Basins** by steepest ascent on the grid (the on-grid method of Henkelman, Arnaldsson and
  Jónsson, Comput. Mater. Sci. 36, 354 (2006)): every voxel points to the one of its 26 periodic
  neighbours with the largest density gradient ``(ρ_n − ρ)/|r_n − r|`` (or to itself at a local
  maximum); following the pointers ends at a maximum, and the voxels that reach one maximum are its
  basin. Electrons per basin = ``Σ ρ · V / N`` over the basin.
- **Sub-voxel positions**: ``ln ρ`` is fitted by a full quadratic on the 3×3×3 periodic
  neighbourhood of each maximum (exact for a Gaussian peak, in any cell shape); the maximum of the
  fit is the position and its value the height. Where the fit is not a maximum within one voxel
  the grid point is kept.
- Maxima closer than ``merge_distance`` (split peaks of a noisy density) are merged into the
  higher one, their electrons summed.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["Peaks", "find_peaks"]

logger = logging.getLogger(__name__)

_OFFSETS = np.array([o for o in itertools.product((-1, 0, 1), repeat=3) if any(o)], dtype=np.int64)
_CUBE = np.array(list(itertools.product((-1, 0, 1), repeat=3)), dtype=float)
# design matrix of ln ρ ≈ c + g·u + ½ uᵀHu on the 27 points u of the 3×3×3 cube
_DESIGN = np.column_stack(
    [
        np.ones(27),
        _CUBE,
        0.5 * _CUBE[:, 0] ** 2,
        0.5 * _CUBE[:, 1] ** 2,
        0.5 * _CUBE[:, 2] ** 2,
        _CUBE[:, 0] * _CUBE[:, 1],
        _CUBE[:, 0] * _CUBE[:, 2],
        _CUBE[:, 1] * _CUBE[:, 2],
    ]
)
_PINV = np.linalg.pinv(_DESIGN)


@dataclass(frozen=True)
class Peaks:
    """Maxima of a periodic density, highest first.

    Attributes
    ----------
    frac_coords
        (P, 3) fractional positions in [0, 1).
    heights
        (P,) fitted peak densities (e/Å³).
    electrons
        (P,) electrons in each peak's basin (e).
    total_electrons
        Electrons in the whole cell (``Σ ρ · V / N``).
    """

    frac_coords: NDArray[np.float64]
    heights: NDArray[np.float64]
    electrons: NDArray[np.float64]
    total_electrons: float

    def __len__(self) -> int:
        return int(self.heights.size)


def _basin_roots(grid: NDArray[np.float64], lattice: NDArray[np.float64]) -> NDArray[np.int64]:
    """Flat index of the maximum every voxel ascends to (steepest ascent, periodic)."""
    dims = np.array(grid.shape)
    step_len = np.linalg.norm((_OFFSETS / dims) @ lattice, axis=1)
    best = np.zeros(grid.shape)
    target = np.arange(grid.size).reshape(grid.shape)
    flat_idx = np.arange(grid.size).reshape(grid.shape)
    for off, length in zip(_OFFSETS, step_len, strict=True):
        shifted = np.roll(grid, tuple(-off), axis=(0, 1, 2))  # ρ at voxel + off
        slope = (shifted - grid) / length
        better = slope > best
        best = np.where(better, slope, best)
        target = np.where(better, np.roll(flat_idx, tuple(-off), axis=(0, 1, 2)), target)
    parent = target.ravel()
    for _ in range(64):  # pointer jumping: log₂ of the longest ascent path
        nxt = parent[parent]
        if np.array_equal(nxt, parent):
            break
        parent = nxt
    return parent


def _subvoxel(
    grid: NDArray[np.float64], idx: NDArray[np.int64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Sub-voxel offsets (voxel units) and fitted heights of maxima at integer indices."""
    dims = np.array(grid.shape)
    pts = (idx[:, None, :] + _CUBE[None, :, :].astype(np.int64)) % dims
    vals = grid[pts[..., 0], pts[..., 1], pts[..., 2]]  # (P, 27)
    floor = max(float(grid.max()) * 1e-12, 1e-300)
    coef = np.log(np.maximum(vals, floor)) @ _PINV.T  # (P, 10)
    offsets = np.zeros((idx.shape[0], 3))
    heights = grid[idx[:, 0], idx[:, 1], idx[:, 2]].astype(float)
    for p in range(idx.shape[0]):
        c, g = coef[p, 0], coef[p, 1:4]
        h = np.diag(coef[p, 4:7])
        h[0, 1] = h[1, 0] = coef[p, 7]
        h[0, 2] = h[2, 0] = coef[p, 8]
        h[1, 2] = h[2, 1] = coef[p, 9]
        if np.any(vals[p] <= floor) or np.any(np.linalg.eigvalsh(h) >= 0):
            continue  # not a well-formed peak: keep the grid point
        u = -np.linalg.solve(h, g)
        if np.max(np.abs(u)) > 1.0:
            continue
        offsets[p] = u
        heights[p] = float(np.exp(c + g @ u + 0.5 * u @ h @ u))
    return offsets, heights


def find_peaks(
    grid: ArrayLike,
    lattice: ArrayLike,
    *,
    min_height: float = 0.0,
    merge_distance: float = 0.5,
    max_peaks: int = 500,
) -> Peaks:
    """Maxima of a periodic density grid with sub-voxel positions and basin electrons.

    Parameters
    ----------
    grid
        (n₁, n₂, n₃) density in e/Å³ at fractional points ``(i/n₁, j/n₂, k/n₃)``.
    lattice
        (3, 3) lattice vectors as rows (Å), or a pymatgen ``Lattice``.
    min_height
        Maxima with a lower (grid) density are dropped (their basins' electrons too), as are
        maxima not above the cell's mean density.
    merge_distance
        Maxima closer than this (Å) are merged into the higher one.
    max_peaks
        Keep at most this many maxima (the highest).

    Returns
    -------
    Peaks
        Highest first; empty when the grid has no maximum above ``min_height``.

    Raises
    ------
    ValueError
        For a grid that is not 3-D and finite or a singular lattice.
    """
    rho = np.asarray(grid, dtype=float)
    if rho.ndim != 3 or min(rho.shape) < 3:
        raise ValueError(f"The density must be a 3-D grid at least 3 points a side, got {rho.shape}.")
    if not np.all(np.isfinite(rho)):
        raise ValueError("The density grid contains NaN or infinite values.")
    lat = np.asarray(getattr(lattice, "matrix", lattice), dtype=float)
    if lat.shape != (3, 3) or abs(np.linalg.det(lat)) < 1e-6:
        raise ValueError("The lattice must be a non-singular (3, 3) matrix.")
    volume = abs(float(np.linalg.det(lat)))
    dv = volume / rho.size
    total = float(rho.sum() * dv)
    empty = Peaks(np.zeros((0, 3)), np.zeros(0), np.zeros(0), total)

    roots = _basin_roots(rho, lat)
    root_ids, inverse = np.unique(roots, return_inverse=True)
    basin_e = np.bincount(inverse, weights=rho.ravel()) * dv
    root_idx = np.stack(np.unravel_index(root_ids, rho.shape), axis=1)
    root_rho = rho.ravel()[root_ids]
    # a peak rises above the cell's mean density (a flat or nearly flat grid has none)
    keep = root_rho > max(min_height, float(rho.mean()) * (1 + 1e-6), 0.0)
    if not np.any(keep):
        return empty
    root_idx, basin_e, root_rho = root_idx[keep], basin_e[keep], root_rho[keep]
    order = np.argsort(-root_rho, kind="stable")[: max(1, 4 * max_peaks)]
    root_idx, basin_e = root_idx[order], basin_e[order]

    offsets, heights = _subvoxel(rho, root_idx)
    frac = (root_idx + offsets) / np.array(rho.shape)
    frac -= np.floor(frac)
    order = np.argsort(-heights, kind="stable")
    frac, heights, basin_e = frac[order], heights[order], basin_e[order]

    # merge maxima closer than merge_distance into the higher one
    owner = np.arange(heights.size)
    if merge_distance > 0 and heights.size > 1:
        for i in range(heights.size):
            if owner[i] != i:
                continue
            d = frac[i + 1 :] - frac[i]
            d -= np.round(d)
            near = np.nonzero(np.linalg.norm(d @ lat, axis=1) < merge_distance)[0] + i + 1
            for j in near:
                if owner[j] == j:
                    owner[j] = i
    electrons = np.bincount(owner, weights=basin_e, minlength=heights.size)
    kept = np.nonzero(owner == np.arange(heights.size))[0][:max_peaks]
    return Peaks(frac[kept], heights[kept], electrons[kept], total)
