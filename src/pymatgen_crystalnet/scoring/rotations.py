"""The 24 proper rotations of a cubic grid and the index tables that turn grids by them.

A density predicted on the fractional grid may be the truth turned by a quarter turn about the
grid axes: the 24 proper rotations of the cube (the octahedral group O), applied the way
``numpy.rot90`` turns an array, i.e. about the grid's centre index (n − 1)/2. :func:`rotations`
lists them (identity first); :class:`Rotation` turns torch tensors and numpy arrays.

For the batched scores (:mod:`.alignment`) every rotation is also stored as a flat gather
index of the n³ voxels (:func:`turn_table`, :func:`turn_index`, :func:`turn_many`), so that a
grid turned by several rotations at once is a single gather.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

__all__ = ["Rotation", "cube_rotations", "rotations", "turn_index", "turn_many", "turn_table"]


@dataclass(frozen=True)
class Rotation:
    """A proper rotation of a cubic grid: permute the three grid axes, then reverse some.

    Applied to ``g`` of shape ``(..., n, n, n)``, the result is
    ``flip(g.permute(..., *perm), [axes a with flips[a]])``: the value at index ``u`` comes
    from ``g`` at ``v`` with ``v[perm[a]] = u[a]`` (or ``n − 1 − u[a]`` where ``flips[a]``).
    In index coordinates centred on (n − 1)/2 this moves the point ``v`` to ``matrix @ v``.

    Attributes
    ----------
    perm
        Source grid axis of each output axis.
    flips
        Output axes that are reversed.
    """

    perm: tuple[int, int, int]
    flips: tuple[bool, bool, bool]

    @property
    def matrix(self) -> NDArray[np.int64]:
        """The 3×3 integer rotation matrix (determinant +1) acting on centred indices."""
        m = np.zeros((3, 3), dtype=np.int64)
        for a in range(3):
            m[a, self.perm[a]] = -1 if self.flips[a] else 1
        return m

    def apply(self, grid: torch.Tensor | ArrayLike) -> torch.Tensor | NDArray:
        """Rotate the last three axes of a torch tensor or numpy array (a view where possible)."""
        if isinstance(grid, torch.Tensor):
            lead = grid.ndim - 3
            out = grid.permute(*range(lead), *(lead + p for p in self.perm))
            dims = [lead + a for a in range(3) if self.flips[a]]
            return torch.flip(out, dims) if dims else out
        arr = np.asarray(grid)
        lead = arr.ndim - 3
        out = np.transpose(arr, (*range(lead), *(lead + p for p in self.perm)))
        dims = tuple(lead + a for a in range(3) if self.flips[a])
        return np.flip(out, dims) if dims else out

    def inverse(self) -> Rotation:
        """The rotation undoing this one."""
        return _from_matrix(self.matrix.T)


@lru_cache(maxsize=1)
def _rotation_table() -> tuple[Rotation, ...]:
    found = []
    for perm in itertools.permutations(range(3)):
        for flips in itertools.product((False, True), repeat=3):
            rot = Rotation(perm=tuple(perm), flips=tuple(flips))  # type: ignore[arg-type]
            if round(np.linalg.det(rot.matrix)) == 1:
                found.append(rot)
    return tuple(found)


def _from_matrix(matrix: NDArray) -> Rotation:
    for rot in _rotation_table():
        if np.array_equal(rot.matrix, matrix):
            return rot
    raise ValueError(f"Not a proper rotation of the cube: {matrix.tolist()}")


def rotations() -> tuple[Rotation, ...]:
    """The 24 proper rotations of the cube (the octahedral group O), identity first."""
    return _rotation_table()


def cube_rotations(grid: torch.Tensor) -> Iterator[torch.Tensor]:
    """Yield the 24 proper rotations of the cubic grids ``(..., n, n, n)``, identity first."""
    for rot in rotations():
        yield rot.apply(grid)  # type: ignore[misc]


# ------------------------------------------------------------------ index tables
@lru_cache(maxsize=6)
def turn_table(n: int, roll: int, device: str) -> torch.Tensor:
    """Flat source index of every voxel of the grid turned by each of :func:`rotations`, ``(24, n³)``.

    With ``roll = w − 1`` the index turns *circular* window means (value p the mean over
    p … p + w − 1 mod n, :func:`~.alignment.circular_box_mean`):
    reversing an axis turns the window p … p + w − 1 into p − w + 1 … p, so the turned means are
    rolled back by w − 1 along the reversed axes.
    """
    base = torch.arange(n**3).reshape(n, n, n)
    rows = []
    for rot in rotations():
        turned = rot.apply(base)
        dims = [a for a in range(3) if rot.flips[a]]
        if roll and dims:
            turned = torch.roll(turned, [-roll] * len(dims), dims)
        rows.append(turned.reshape(-1))
    return torch.stack(rows).to(device)


def turn_index(n: int, which: tuple[int, ...], roll: int, device: str) -> torch.Tensor:
    """Rows ``which`` of :func:`turn_table`: ``(len(which), n³)``."""
    table = turn_table(n, roll, device)
    if which == tuple(range(table.shape[0])):
        return table
    return table[torch.tensor(which, device=table.device)]


def turn_many(grids: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``(B, n, n, n)`` grids turned by each row of ``index`` → ``(R, B, n, n, n)`` (one gather)."""
    b, n = grids.shape[0], grids.shape[-1]
    out = grids.reshape(b, -1)[:, index]  # (B, R, n³)
    return out.transpose(0, 1).reshape(index.shape[0], b, n, n, n)

