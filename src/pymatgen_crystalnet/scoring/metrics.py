"""Scores of predicted densities against the truth, batched in torch, with grid alignment.

The scores (docs/science.md, 'Scores'), each computed over the grid points of ``(..., n, n, n)`` grids:

- :func:`ssim3d`: 3-D SSIM with exactly scikit-image's ``structural_similarity`` semantics
  (uniform 7³ window, K1 = 0.01, K2 = 0.03, sample covariance, mean over the voxels whose
  window lies inside the grid), ``data_range`` = max − min of the truth.
- :func:`psnr`: 10·log10(range² / MSE), the same range.
- :func:`map_cc`: Pearson correlation over the grid points (the crystallographer's map CC).
- :func:`nmae`: Σ|ρ_pred − ρ_true| / Σρ_true.

Alignment. A density predicted on the fractional grid may be the truth turned or shifted:

- *rotation-only* (the paper's protocol): the 24 proper rotations of the cubic grid
  (:func:`rotations`; quarter turns about the grid axes, the way ``numpy.rot90`` turns an
  array, i.e. about the grid's centre index (n − 1)/2); every score is the best over them.
- *translation-aware*: the best over the 24 rotations **and** all n³ circular grid shifts.
  For every (rotation, sample) the cross-correlation of the mean-free grids over all shifts
  comes from one FFT, which gives map CC at every shift exactly; the MSE at a shift differs
  from −2 × that correlation by a constant, so the CC-maximising shift also minimises the MSE
  and PSNR is exact too. SSIM and NMAE have no such identity: they are evaluated at the zero
  shift and at the ``n_peaks`` shifts with the largest correlation (default 1), and the best
  is kept, so they are lower bounds of the exhaustive optimum. A translation-aware score is
  never below its rotation-only score (the zero shift is always among the candidates).

Each score takes its own best rotation (and shift), as the paper reports the best SSIM and the
best PSNR per crystal; :func:`best_scores` then takes the best sample per crystal.

Everything runs on the inputs' device in float64 by default. All rotations and samples of a
crystal are scored in batched tensor operations; ``max_elements`` bounds the size of the largest
intermediate (rotations × samples × crystals × n³ values), chunking over crystals and rotations
(small cache-sized chunks on a CPU, large ones on a GPU).
:func:`reference_scores` is the scikit-image loop the torch path is tested against.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

__all__ = [
    "DEFAULT_MAX_ELEMENTS",
    "LOWER_IS_BETTER",
    "METRICS",
    "AlignedScores",
    "Rotation",
    "aligned_scores",
    "best_scores",
    "cube_rotations",
    "grid_scores",
    "map_cc",
    "nmae",
    "psnr",
    "reference_scores",
    "rotation_scores",
    "rotations",
    "ssim3d",
    "translation_scores",
]

#: Names of the scores, in report order.
METRICS: tuple[str, ...] = ("ssim", "psnr", "cc", "nmae")
#: Scores for which smaller is better (the others: larger is better).
LOWER_IS_BETTER: frozenset[str] = frozenset({"nmae"})
#: Default bound on the values of the largest intermediate tensor on a CPU (2^20 float64 = 8 MiB:
#: chunks that stay in cache run several times faster than one large batch) and on a GPU
#: (2^25 float64 = 256 MiB).
DEFAULT_MAX_ELEMENTS: dict[str, int] = {"cpu": 1 << 20, "cuda": 1 << 25}

_K1 = 0.01
_K2 = 0.03
_FLAT_RTOL = 1e-12
_DIMS = (-3, -2, -1)


# ------------------------------------------------------------------ rotations
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


# ------------------------------------------------------------------ window means
def _box_mean(x: torch.Tensor, win_size: int) -> torch.Tensor:
    """Uniform-window means over the last three dims, valid region only (separable sums).

    ``(..., n1, n2, n3)`` → ``(..., n1 − w + 1, n2 − w + 1, n3 − w + 1)``. Each axis is summed
    as w shifted slices (direct sums, no running-sum cancellation).
    """
    for dim in (-3, -2, -1):
        size = x.shape[dim] - win_size + 1
        acc = x.narrow(dim, 0, size).clone()
        for k in range(1, win_size):
            acc.add_(x.narrow(dim, k, size))
        x = acc
    return x.div_(win_size**3)


def _circular_box_mean(x: torch.Tensor, win_size: int) -> torch.Tensor:
    """Uniform-window means of periodic grids: value p is the mean over p … p + w − 1 (mod n)."""
    lead = x.shape[:-3]
    w = win_size - 1
    y = F.pad(x.reshape(-1, 1, *x.shape[-3:]), (0, w, 0, w, 0, w), mode="circular")
    return _box_mean(y, win_size).reshape(*lead, *x.shape[-3:])


@lru_cache(maxsize=6)
def _turn_table(n: int, roll: int, device: str) -> torch.Tensor:
    """Flat source index of every voxel of the grid turned by each of :func:`rotations`, ``(24, n³)``.

    With ``roll = w − 1`` the index turns *circular* window means (:func:`_circular_box_mean`):
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


def _turn_index(n: int, which: tuple[int, ...], roll: int, device: str) -> torch.Tensor:
    """Rows ``which`` of :func:`_turn_table`: ``(len(which), n³)``."""
    table = _turn_table(n, roll, device)
    if which == tuple(range(table.shape[0])):
        return table
    return table[torch.tensor(which, device=table.device)]


def _turn_many(grids: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``(B, n, n, n)`` grids turned by each row of ``index`` → ``(R, B, n, n, n)`` (one gather)."""
    b, n = grids.shape[0], grids.shape[-1]
    out = grids.reshape(b, -1)[:, index]  # (B, R, n³)
    return out.transpose(0, 1).reshape(index.shape[0], b, n, n, n)


def _ssim_from_stats(
    ux: torch.Tensor,
    uy: torch.Tensor,
    uxx: torch.Tensor,
    uyy: torch.Tensor,
    uxy: torch.Tensor,
    data_range: torch.Tensor,
    win_size: int,
) -> torch.Tensor:
    """Mean SSIM from window means; ``data_range`` broadcasts against the leading dims."""
    n_window = win_size**3
    cov_norm = n_window / (n_window - 1)
    vx = cov_norm * (uxx - ux * ux)
    vy = cov_norm * (uyy - uy * uy)
    vxy = cov_norm * (uxy - ux * uy)
    r = data_range.reshape(*data_range.shape, 1, 1, 1)
    c1 = (_K1 * r) ** 2
    c2 = (_K2 * r) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    return s.mean(dim=_DIMS)


def _check_window(shape: tuple[int, ...], win_size: int) -> None:
    if win_size % 2 != 1 or win_size < 3 or win_size > min(shape[-3:]):
        raise ValueError(
            f"win_size must be odd, at least 3 and at most the smallest grid side {min(shape[-3:])}; "
            f"got {win_size}."
        )


def _range(truth: torch.Tensor) -> torch.Tensor:
    return truth.amax(dim=_DIMS) - truth.amin(dim=_DIMS)


# ------------------------------------------------------------------ plain scores
def ssim3d(
    prediction: torch.Tensor,
    truth: torch.Tensor,
    data_range: torch.Tensor | float | None = None,
    win_size: int = 7,
) -> torch.Tensor:
    """Mean structural similarity of 3-D grids, as ``skimage.metrics.structural_similarity``.

    Parameters
    ----------
    prediction, truth
        ``(..., n1, n2, n3)`` grids; leading dimensions broadcast.
    data_range
        Per-grid range (broadcasting against the leading dims) or a scalar; default
        max − min of ``truth`` over its last three dims.
    win_size
        Side of the uniform window (odd, at most the smallest grid side).

    Returns
    -------
    torch.Tensor
        The mean SSIM of each grid (float64), shape of the broadcast leading dims.
    """
    _check_window(tuple(truth.shape), win_size)
    x, y = torch.broadcast_tensors(prediction.double(), truth.double())
    r = _range(y) if data_range is None else torch.as_tensor(data_range, dtype=torch.float64, device=x.device)
    r = torch.broadcast_to(r, x.shape[:-3])
    return _ssim_from_stats(
        _box_mean(x, win_size),
        _box_mean(y, win_size),
        _box_mean(x * x, win_size),
        _box_mean(y * y, win_size),
        _box_mean(x * y, win_size),
        r,
        win_size,
    )


def _flat(sum_sq: torch.Tensor, mean: torch.Tensor, n_points: int) -> torch.Tensor:
    """Whether grids are constant: relative spread (RMS deviation / |mean|) below 1e-12.

    A constant grid's deviations from its computed mean are rounding noise, whose
    "correlation" with anything would be meaningless.
    """
    return sum_sq <= _FLAT_RTOL**2 * n_points * mean * mean


def map_cc(prediction: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """Pearson correlation over the grid points of each grid; ``(..., n, n, n)`` → ``(...)``.

    A constant grid has no correlation with anything: its CC is 0.
    """
    x = prediction.double()
    y = truth.double()
    n_points = x.shape[-1] * x.shape[-2] * x.shape[-3]
    x_mean = x.mean(dim=_DIMS, keepdim=True)
    y_mean = y.mean(dim=_DIMS, keepdim=True)
    x = x - x_mean
    y = y - y_mean
    x_ss = (x * x).sum(dim=_DIMS)
    y_ss = (y * y).sum(dim=_DIMS)
    num = (x * y).sum(dim=_DIMS)
    den = torch.sqrt(x_ss * y_ss).clamp_min(torch.finfo(torch.float64).tiny)
    flat = _flat(x_ss, x_mean[..., 0, 0, 0], n_points) | _flat(y_ss, y_mean[..., 0, 0, 0], n_points)
    return torch.where(flat, torch.zeros_like(num), num / den)


def nmae(prediction: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """Normalised mean absolute error Σ|ρ_pred − ρ_true| / Σρ_true per grid."""
    x = prediction.double()
    y = truth.double()
    return (x - y).abs().sum(dim=_DIMS) / y.sum(dim=_DIMS)


def psnr(
    prediction: torch.Tensor, truth: torch.Tensor, data_range: torch.Tensor | float | None = None
) -> torch.Tensor:
    """10·log10(range² / MSE) per grid, range = max − min of the truth by default."""
    x = prediction.double()
    y = truth.double()
    r = _range(y) if data_range is None else torch.as_tensor(data_range, dtype=torch.float64, device=x.device)
    mse = ((x - y) ** 2).mean(dim=_DIMS)
    return 10 * torch.log10(r**2 / mse)


def grid_scores(prediction: torch.Tensor, truth: torch.Tensor, win_size: int = 7) -> dict[str, torch.Tensor]:
    """All four scores without any alignment; leading dimensions broadcast.

    Returns
    -------
    dict
        ``ssim``, ``psnr``, ``cc``, ``nmae``, each of the broadcast leading shape (float64).
    """
    x, y = torch.broadcast_tensors(prediction.double(), truth.double())
    r = _range(y)
    return {
        "ssim": ssim3d(x, y, r, win_size),
        "psnr": psnr(x, y, r),
        "cc": map_cc(x, y),
        "nmae": nmae(x, y),
    }


# ------------------------------------------------------------------ aligned scores
@dataclass
class AlignedScores:
    """Scores of S samples of B crystals under alignment (see :func:`aligned_scores`).

    Attributes
    ----------
    rotation
        ``{score: (S, B)}``: each score's best over the 24 rotations (no shift).
    translation
        ``{score: (S, B)}``: best over the 24 rotations and the grid shifts, or None when not
        asked for.
    per_rotation
        ``{score: (24, S, B)}``: the unshifted scores of the prediction turned by each of
        :func:`rotations` (index 0: as predicted).
    """

    rotation: dict[str, torch.Tensor]
    translation: dict[str, torch.Tensor] | None
    per_rotation: dict[str, torch.Tensor]


def _better(key: str, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.minimum(a, b) if key in LOWER_IS_BETTER else torch.maximum(a, b)


def _reduce_best(key: str, values: torch.Tensor, dim: int) -> torch.Tensor:
    return values.amin(dim=dim) if key in LOWER_IS_BETTER else values.amax(dim=dim)


def _gather_shifted(grids: torch.Tensor, shifts: torch.Tensor, size: int, n: int) -> torch.Tensor:
    """``out[r, s, b, i, j, k] = grids[r, b, (i − t0) % n, (j − t1) % n, (k − t2) % n]``.

    ``grids`` is ``(R, B, n, n, n)``; ``shifts`` ``(R, S, B, 3)`` integer; ``i, j, k < size``.
    """
    rr, ss, bb = shifts.shape[:3]
    ar = torch.arange(size, device=grids.device)
    idx = (ar - shifts[..., None]) % n  # (R, S, B, 3, size)
    r_i = torch.arange(rr, device=grids.device).reshape(rr, 1, 1, 1, 1, 1)
    b_i = torch.arange(bb, device=grids.device).reshape(1, 1, bb, 1, 1, 1)
    i0 = idx[..., 0, :].reshape(rr, ss, bb, size, 1, 1)
    i1 = idx[..., 1, :].reshape(rr, ss, bb, 1, size, 1)
    i2 = idx[..., 2, :].reshape(rr, ss, bb, 1, 1, size)
    return grids[r_i, b_i, i0, i1, i2]


def _ssim_outer(
    ux: torch.Tensor,
    uxx: torch.Tensor,
    uy: torch.Tensor,
    uyy: torch.Tensor,
    uxy: torch.Tensor,
    data_range: torch.Tensor,
    win_size: int,
) -> torch.Tensor:
    """Mean SSIM of every (rotation, sample) pair from window means, mostly in place.

    ``ux, uxx``: ``(S, B, m³)`` of the predictions; ``uy, uyy``: ``(R, B, m³)`` or
    ``(R, S, B, m³)`` of the (turned, shifted) truths; ``uxy``: ``(R, S, B, m³)``, consumed.
    """
    n_window = win_size**3
    cov_norm = n_window / (n_window - 1)
    r = data_range.reshape(*data_range.shape, 1, 1, 1)
    c1 = (_K1 * r) ** 2
    c2 = (_K2 * r) ** 2
    if uy.ndim == ux.ndim:  # (R, B, m³): broadcast over the samples
        uy, uyy = uy[:, None], uyy[:, None]
    mean_prod = ux[None] * uy  # (R, S, B, m³)
    num2 = uxy.sub_(mean_prod).mul_(2 * cov_norm).add_(c2)  # 2·cov(x, y) + C2
    num1 = mean_prod.mul_(2).add_(c1)  # 2·μx·μy + C1
    num1.mul_(num2)
    del num2
    den = (ux * ux)[None] + (uy * uy + c1)  # μx² + μy² + C1
    var_x = cov_norm * (uxx - ux * ux)
    var_y = cov_norm * (uyy - uy * uy) + c2
    den.mul_(var_x[None] + var_y)
    return num1.div_(den).mean(dim=_DIMS)


def _score_chunk(
    x: torch.Tensor,
    y: torch.Tensor,
    win_size: int,
    translation: bool,
    n_peaks: int,
    rot_chunk: int,
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor] | None]:
    """Per-rotation (unshifted) and translation-aware scores of x (S, B, n³) vs y (B, n³)."""
    n = y.shape[-1]
    n_points = n**3
    w = win_size
    m = n - w + 1
    tiny = torch.finfo(torch.float64).tiny
    rots = rotations()
    undo = tuple(rots.index(rot.inverse()) for rot in rots)  # score(R x, y) = score(x, R⁻¹ y)
    device = str(y.device)

    data_range = _range(y)  # (B,)
    y_sum = y.sum(dim=_DIMS)
    ux, uxx = _box_mean(x, w), _box_mean(x * x, w)  # (S, B, m³)
    uy, uyy = _box_mean(y, w), _box_mean(y * y, w)  # (B, m³)
    x_mean = x.mean(dim=_DIMS)  # (S, B)
    y_mean = y.mean(dim=_DIMS)  # (B,)
    xc = (x - x_mean[..., None, None, None]).flatten(-3)  # (S, B, N)
    x_ss = (xc * xc).sum(dim=-1)  # (S, B)
    y_ss = ((y - y_mean[:, None, None, None]) ** 2).sum(dim=_DIMS)  # (B,)
    norms = torch.sqrt(x_ss * y_ss).clamp_min(tiny)  # (S, B)
    flat = _flat(x_ss, x_mean, n_points) | _flat(y_ss, y_mean, n_points)[None]
    norms = torch.where(flat, torch.full_like(norms, torch.inf), norms)  # CC of a constant grid: 0
    mean_gap = (x_mean - y_mean) ** 2  # (S, B)
    x_fft = circ_uy = circ_uyy = None
    if translation:
        x_fft = torch.fft.rfftn(xc.reshape(x.shape), dim=_DIMS)
        circ_uy, circ_uyy = _circular_box_mean(y, w), _circular_box_mean(y * y, w)  # (B, n³)

    def mse_of(cross: torch.Tensor) -> torch.Tensor:
        # Σ(x − y)²/N from the centred cross term: (Σxc² + Σyc² − 2Σxc·yc)/N + (x̄ − ȳ)²
        return ((x_ss + y_ss - 2 * cross) / n_points + mean_gap).clamp_min(0.0)

    def psnr_of(mse: torch.Tensor) -> torch.Tensor:
        return 10 * torch.log10(data_range**2 / mse)

    per_rot: dict[str, list[torch.Tensor]] = {k: [] for k in METRICS}
    shifted: dict[str, list[torch.Tensor]] = {k: [] for k in METRICS}
    for start in range(0, len(rots), rot_chunk):
        chunk = undo[start : start + rot_chunk]
        ry = _turn_many(y, _turn_index(n, chunk, 0, device))  # (R, B, n, n, n)
        turn_m = _turn_index(m, chunk, 0, device)  # window means commute with turns
        r_uy, r_uyy = _turn_many(uy, turn_m), _turn_many(uyy, turn_m)
        ryc = (ry - y_mean[:, None, None, None]).flatten(-3)  # (R, B, N)
        cross = torch.einsum("sbn,rbn->rsb", xc, ryc)  # Σ xc · R⁻¹yc
        per_rot["cc"].append(cross / norms)
        per_rot["psnr"].append(psnr_of(mse_of(cross)))
        diff = x[None] - ry[:, None]
        per_rot["nmae"].append(diff.abs_().sum(dim=_DIMS) / y_sum)
        del diff
        uxy = _box_mean(x[None] * ry[:, None], w)  # (R, S, B, m³)
        per_rot["ssim"].append(_ssim_outer(ux, uxx, r_uy, r_uyy, uxy, data_range, w))
        del uxy
        if not translation:
            continue
        # cross-correlation over all shifts t: corr[t] = Σ_i xc(i) · ryc(i − t)
        y_fft = torch.fft.rfftn(ryc.reshape(ry.shape), dim=_DIMS)
        corr = torch.fft.irfftn(x_fft[None] * torch.conj(y_fft)[:, None], s=(n, n, n), dim=_DIMS)
        corr = corr.flatten(-3)  # (R, S, B, N)
        del y_fft, ryc
        top = torch.topk(corr, k=min(n_peaks, n_points), dim=-1)
        del corr
        best: dict[str, torch.Tensor] = {"cc": top.values[..., 0] / norms}
        best["psnr"] = psnr_of(mse_of(top.values[..., 0]))  # the CC peak also minimises the MSE
        turn_c = _turn_index(n, chunk, w - 1, device)
        circ_y, circ_yy = _turn_many(circ_uy, turn_c), _turn_many(circ_uyy, turn_c)
        for p in range(top.indices.shape[-1]):
            flat = top.indices[..., p]
            t = torch.stack([flat // (n * n), (flat // n) % n, flat % n], dim=-1)  # (R, S, B, 3)
            ys = _gather_shifted(ry, t, n, n)  # (R, S, B, n, n, n): ry rolled by t
            diff = x[None] - ys
            scores = {"nmae": diff.abs_().sum(dim=_DIMS) / y_sum}
            del diff
            uxy = _box_mean(ys.mul_(x[None]), w)
            del ys
            uy_t, uyy_t = _gather_shifted(circ_y, t, m, n), _gather_shifted(circ_yy, t, m, n)
            scores["ssim"] = _ssim_outer(ux, uxx, uy_t, uyy_t, uxy, data_range, w)
            del uxy
            for key, value in scores.items():
                best[key] = value if key not in best else _better(key, best[key], value)
        for key in METRICS:
            shifted[key].append(best[key])

    out_rot = {k: torch.cat(v) for k, v in per_rot.items()}
    out_shift = {k: torch.cat(v) for k, v in shifted.items()} if translation else None
    return out_rot, out_shift


def aligned_scores(
    prediction: torch.Tensor,
    truth: torch.Tensor,
    *,
    win_size: int = 7,
    translation: bool = False,
    n_peaks: int = 1,
    max_elements: int | None = None,
    dtype: torch.dtype = torch.float64,
) -> AlignedScores:
    """Scores of every sample of every crystal, best over the 24 rotations (and shifts).

    Parameters
    ----------
    prediction
        ``(S, B, n, n, n)``: S samples for each of B crystals (any device).
    truth
        ``(B, n, n, n)`` on the same device.
    win_size
        SSIM window side.
    translation
        Also compute the translation-aware scores (see the module docstring).
    n_peaks
        Shifts of largest cross-correlation at which SSIM and NMAE are evaluated.
    max_elements
        Bound on rotations × samples × crystals × n³ values held at once (default
        :data:`DEFAULT_MAX_ELEMENTS` of the device type).
    dtype
        Working precision (float64 by default, which the scikit-image agreement needs).

    Returns
    -------
    AlignedScores
    """
    if prediction.ndim != 5 or truth.ndim != 4:
        raise ValueError(
            f"Expected prediction (S, B, n, n, n) and truth (B, n, n, n); got {tuple(prediction.shape)} "
            f"and {tuple(truth.shape)}."
        )
    if prediction.shape[1:] != truth.shape or len(set(truth.shape[-3:])) != 1:
        raise ValueError(
            f"Need cubic grids of equal size, got {tuple(prediction.shape)} and {tuple(truth.shape)}."
        )
    if n_peaks < 1:
        raise ValueError(f"n_peaks must be at least 1, got {n_peaks}.")
    _check_window(tuple(truth.shape), win_size)
    s_count, b_count = prediction.shape[:2]
    n_points = truth.shape[-1] ** 3
    per_crystal = s_count * n_points
    if max_elements is None:
        max_elements = DEFAULT_MAX_ELEMENTS.get(truth.device.type, DEFAULT_MAX_ELEMENTS["cuda"])
    b_chunk = max(1, min(b_count, max_elements // max(1, per_crystal)))
    rot_chunk = max(1, min(24, max_elements // max(1, per_crystal * b_chunk)))
    parts_rot: list[dict[str, torch.Tensor]] = []
    parts_shift: list[dict[str, torch.Tensor]] = []
    for start in range(0, b_count, b_chunk):
        x = prediction[:, start : start + b_chunk].to(dtype)
        y = truth[start : start + b_chunk].to(dtype)
        rot, shift = _score_chunk(x, y, win_size, translation, n_peaks, rot_chunk)
        parts_rot.append(rot)
        if shift is not None:
            parts_shift.append(shift)
    per_rotation = {k: torch.cat([p[k] for p in parts_rot], dim=-1) for k in METRICS}
    best_rot = {k: _reduce_best(k, v, 0) for k, v in per_rotation.items()}
    best_shift = None
    if translation:
        best_shift = {
            k: _better(k, best_rot[k], _reduce_best(k, torch.cat([p[k] for p in parts_shift], dim=-1), 0))
            for k in METRICS
        }
    return AlignedScores(rotation=best_rot, translation=best_shift, per_rotation=per_rotation)


def rotation_scores(
    prediction: torch.Tensor, truth: torch.Tensor, win_size: int = 7, **kwargs: object
) -> dict[str, torch.Tensor]:
    """Best-over-24-rotations scores of every prediction against its truth.

    Parameters
    ----------
    prediction
        ``(S, B, n, n, n)``: S samples for each of B crystals.
    truth
        ``(B, n, n, n)``.
    win_size
        SSIM window side.
    **kwargs
        Passed to :func:`aligned_scores` (``max_elements``, ``dtype``).

    Returns
    -------
    dict
        ``ssim``, ``psnr``, ``cc`` (each the maximum over rotations) and ``nmae`` (the
        minimum), each ``(S, B)``. Each score takes its own best rotation.
    """
    return aligned_scores(prediction, truth, win_size=win_size, **kwargs).rotation  # type: ignore[arg-type]


def translation_scores(
    prediction: torch.Tensor, truth: torch.Tensor, win_size: int = 7, n_peaks: int = 1, **kwargs: object
) -> dict[str, torch.Tensor]:
    """Best over the 24 rotations and the n³ grid shifts, ``(S, B)`` per score.

    See the module docstring for which scores are exhaustive over the shifts (CC, PSNR) and
    which are evaluated at the best-correlated shifts (SSIM, NMAE).
    """
    out = aligned_scores(
        prediction,
        truth,
        win_size=win_size,
        translation=True,
        n_peaks=n_peaks,
        **kwargs,  # type: ignore[arg-type]
    )
    assert out.translation is not None
    return out.translation


def best_scores(per_sample: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Best sample per crystal of :func:`rotation_scores` output: ``(S, B)`` → ``(B,)``."""
    return {key: _reduce_best(key, value, 0) for key, value in per_sample.items()}


# ------------------------------------------------------------------ reference
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
