"""Validation scores used during training, batched in torch (self-contained).

This module is the trainer's own minimal implementation of the paper's protocol (DESIGN §2,
§3); the evaluation package of the project may take it over. Everything works on batches on
any device, in float64.

- :func:`ssim3d`: 3-D SSIM with exactly scikit-image's ``structural_similarity`` defaults
  (uniform 7³ window, K1 = 0.01, K2 = 0.03, sample covariance, mean over the voxels whose
  window lies inside the grid), with ``data_range`` = max − min of the truth.
- :func:`map_cc` (Pearson correlation over grid points), :func:`nmae`
  (Σ|ρ_pred − ρ_true| / Σρ_true), :func:`psnr` (10·log10(range² / MSE)).
- :func:`cube_rotations`: the 24 proper rotations of a cubic grid (90° turns about its axes).
- :func:`rotation_scores`: every score of every sample, best over the 24 rotations;
  :func:`best_scores` then takes the best sample per crystal, each score on its own.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.nn.functional as F

__all__ = [
    "best_scores",
    "cube_rotations",
    "map_cc",
    "nmae",
    "psnr",
    "rotation_scores",
    "ssim3d",
]

_K1 = 0.01
_K2 = 0.03
_DIMS = (-3, -2, -1)


def _window_means(x: torch.Tensor, win_size: int) -> torch.Tensor:
    """Uniform-window means over the last three dims, valid region only.

    ``(..., C, n, n, n)`` → ``(..., C, n − w + 1, …)``.
    """
    lead = x.shape[:-3]
    flat = x.reshape(-1, 1, *x.shape[-3:])
    out = F.avg_pool3d(flat, kernel_size=win_size, stride=1)
    return out.reshape(*lead, *out.shape[-3:])


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
        The mean SSIM of each grid, shape of the broadcast leading dims.
    """
    if win_size % 2 != 1 or win_size > min(truth.shape[-3:]):
        raise ValueError(f"win_size must be odd and <= grid size, got {win_size}.")
    x = prediction.double()
    y = truth.double()
    x, y = torch.broadcast_tensors(x, y)
    if data_range is None:
        data_range = y.amax(dim=_DIMS) - y.amin(dim=_DIMS)
    r = torch.as_tensor(data_range, dtype=torch.float64, device=x.device)
    r = r.reshape(*r.shape, 1, 1, 1)
    stats = _window_means(torch.stack([x, y, x * x, y * y, x * y], dim=-4), win_size)
    ux, uy, uxx, uyy, uxy = stats.unbind(dim=-4)
    n_window = win_size**3
    cov_norm = n_window / (n_window - 1)
    vx = cov_norm * (uxx - ux * ux)
    vy = cov_norm * (uyy - uy * uy)
    vxy = cov_norm * (uxy - ux * uy)
    c1 = (_K1 * r) ** 2
    c2 = (_K2 * r) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    return s.mean(dim=_DIMS)


def map_cc(prediction: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """Pearson correlation over the grid points of each grid; ``(..., n, n, n)`` → ``(...)``."""
    x = prediction.double()
    y = truth.double()
    x = x - x.mean(dim=_DIMS, keepdim=True)
    y = y - y.mean(dim=_DIMS, keepdim=True)
    num = (x * y).sum(dim=_DIMS)
    den = torch.sqrt((x * x).sum(dim=_DIMS) * (y * y).sum(dim=_DIMS))
    return num / den.clamp_min(torch.finfo(torch.float64).tiny)


def nmae(prediction: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """Normalised mean absolute error Σ|ρ_pred − ρ_true| / Σρ_true per grid."""
    x = prediction.double()
    y = truth.double()
    return (x - y).abs().sum(dim=_DIMS) / y.sum(dim=_DIMS)


def psnr(
    prediction: torch.Tensor, truth: torch.Tensor, data_range: torch.Tensor | None = None
) -> torch.Tensor:
    """10·log10(range² / MSE) per grid, range = max − min of the truth by default."""
    x = prediction.double()
    y = truth.double()
    if data_range is None:
        data_range = y.amax(dim=_DIMS) - y.amin(dim=_DIMS)
    mse = ((x - y) ** 2).mean(dim=_DIMS)
    return 10 * torch.log10(data_range.double() ** 2 / mse)


def cube_rotations(grid: torch.Tensor) -> Iterator[torch.Tensor]:
    """Yield the 24 proper rotations of the cubic grids ``(..., n, n, n)`` (identity first).

    Six ways to point the first grid axis (±a, ±b, ±c), times four quarter turns about it.
    """
    a, b, c = _DIMS
    faces = [
        grid,
        torch.rot90(grid, 1, (a, b)),
        torch.rot90(grid, 2, (a, b)),
        torch.rot90(grid, 3, (a, b)),
        torch.rot90(grid, 1, (a, c)),
        torch.rot90(grid, 3, (a, c)),
    ]
    for face in faces:
        for k in range(4):
            yield torch.rot90(face, k, (b, c))


def rotation_scores(
    prediction: torch.Tensor, truth: torch.Tensor, win_size: int = 7
) -> dict[str, torch.Tensor]:
    """Best-over-24-rotations scores of every prediction against its truth.

    Parameters
    ----------
    prediction
        ``(S, B, n, n, n)``: S samples for each of B crystals.
    truth
        ``(B, n, n, n)``.

    Returns
    -------
    dict
        ``ssim``, ``psnr``, ``cc`` (each the maximum over rotations) and ``nmae`` (the
        minimum), each ``(S, B)``. Each score takes its own best rotation.
    """
    if prediction.shape[-3:] != truth.shape[-3:] or len(set(truth.shape[-3:])) != 1:
        raise ValueError(
            f"Need cubic grids of equal size, got {tuple(prediction.shape)} and {tuple(truth.shape)}."
        )
    y = truth.double()
    data_range = y.amax(dim=_DIMS) - y.amin(dim=_DIMS)
    best: dict[str, torch.Tensor] = {}
    for rotated in cube_rotations(prediction.double()):
        scores = {
            "ssim": ssim3d(rotated, y, data_range, win_size),
            "psnr": psnr(rotated, y, data_range),
            "cc": map_cc(rotated, y),
            "nmae": nmae(rotated, y),
        }
        for key, value in scores.items():
            if key not in best:
                best[key] = value
            elif key == "nmae":
                best[key] = torch.minimum(best[key], value)
            else:
                best[key] = torch.maximum(best[key], value)
    return best


def best_scores(per_sample: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Best sample per crystal of :func:`rotation_scores` output: ``(S, B)`` → ``(B,)``."""
    return {
        key: value.amin(dim=0) if key == "nmae" else value.amax(dim=0) for key, value in per_sample.items()
    }
