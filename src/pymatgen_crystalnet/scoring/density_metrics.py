"""The four density-map scores of a predicted grid against the truth, batched in torch.

Each score is computed over the grid points of ``(..., n, n, n)`` grids (see
``docs/science.md``, "scores that discriminate"):

- :func:`ssim3d`: 3-D SSIM with exactly scikit-image's ``structural_similarity`` semantics
  (uniform 7³ window, K1 = 0.01, K2 = 0.03, sample covariance, mean over the voxels whose
  window lies inside the grid), ``data_range`` = max − min of the truth.
- :func:`psnr`: 10·log10(range² / MSE), the same range.
- :func:`map_cc`: Pearson correlation over the grid points (the crystallographer's map CC).
- :func:`nmae`: Σ|ρ_pred − ρ_true| / Σρ_true.

:func:`grid_scores` gives all four without any alignment; the best over rotations and shifts
is :mod:`.alignment`. Everything is computed in float64. The window means
(:func:`box_mean`), the SSIM constants and the flat-grid rule are shared with :mod:`.alignment`.
"""

from __future__ import annotations

import torch

__all__ = ["LOWER_IS_BETTER", "METRICS", "grid_scores", "map_cc", "nmae", "psnr", "ssim3d"]

#: Names of the scores, in report order.
METRICS: tuple[str, ...] = ("ssim", "psnr", "cc", "nmae")
#: Scores for which smaller is better (the others: larger is better).
LOWER_IS_BETTER: frozenset[str] = frozenset({"nmae"})

#: SSIM stabilising constants (scikit-image's defaults), relative to the data range.
SSIM_K1 = 0.01
SSIM_K2 = 0.03
#: A grid whose RMS deviation from its mean is below this fraction of |mean| is constant.
FLAT_RTOL = 1e-12
#: The three grid axes of ``(..., n, n, n)`` tensors.
GRID_DIMS = (-3, -2, -1)


# ------------------------------------------------------------------ building blocks
def box_mean(x: torch.Tensor, win_size: int) -> torch.Tensor:
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
    c1 = (SSIM_K1 * r) ** 2
    c2 = (SSIM_K2 * r) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    return s.mean(dim=GRID_DIMS)


def check_window(shape: tuple[int, ...], win_size: int) -> None:
    """Refuse an SSIM window that is even, below 3 or larger than the grid's smallest side."""
    if win_size % 2 != 1 or win_size < 3 or win_size > min(shape[-3:]):
        raise ValueError(
            f"win_size must be odd, at least 3 and at most the smallest grid side {min(shape[-3:])}; "
            f"got {win_size}."
        )


def truth_range(truth: torch.Tensor) -> torch.Tensor:
    """The data range max − min of each grid over its last three dims."""
    return truth.amax(dim=GRID_DIMS) - truth.amin(dim=GRID_DIMS)


def is_flat(sum_sq: torch.Tensor, mean: torch.Tensor, n_points: int) -> torch.Tensor:
    """Whether grids are constant: relative spread (RMS deviation / |mean|) below 1e-12.

    A constant grid's deviations from its computed mean are rounding noise, whose
    "correlation" with anything would be meaningless.
    """
    return sum_sq <= FLAT_RTOL**2 * n_points * mean * mean


# ------------------------------------------------------------------ scores
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
    check_window(tuple(truth.shape), win_size)
    x, y = torch.broadcast_tensors(prediction.double(), truth.double())
    r = (
        truth_range(y)
        if data_range is None
        else torch.as_tensor(data_range, dtype=torch.float64, device=x.device)
    )
    r = torch.broadcast_to(r, x.shape[:-3])
    return _ssim_from_stats(
        box_mean(x, win_size),
        box_mean(y, win_size),
        box_mean(x * x, win_size),
        box_mean(y * y, win_size),
        box_mean(x * y, win_size),
        r,
        win_size,
    )


def map_cc(prediction: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """Pearson correlation over the grid points of each grid; ``(..., n, n, n)`` → ``(...)``.

    A constant grid has no correlation with anything: its CC is 0.
    """
    x = prediction.double()
    y = truth.double()
    n_points = x.shape[-1] * x.shape[-2] * x.shape[-3]
    x_mean = x.mean(dim=GRID_DIMS, keepdim=True)
    y_mean = y.mean(dim=GRID_DIMS, keepdim=True)
    x = x - x_mean
    y = y - y_mean
    x_ss = (x * x).sum(dim=GRID_DIMS)
    y_ss = (y * y).sum(dim=GRID_DIMS)
    num = (x * y).sum(dim=GRID_DIMS)
    den = torch.sqrt(x_ss * y_ss).clamp_min(torch.finfo(torch.float64).tiny)
    flat = is_flat(x_ss, x_mean[..., 0, 0, 0], n_points) | is_flat(y_ss, y_mean[..., 0, 0, 0], n_points)
    return torch.where(flat, torch.zeros_like(num), num / den)


def nmae(prediction: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """Normalised mean absolute error Σ|ρ_pred − ρ_true| / Σρ_true per grid."""
    x = prediction.double()
    y = truth.double()
    return (x - y).abs().sum(dim=GRID_DIMS) / y.sum(dim=GRID_DIMS)


def psnr(
    prediction: torch.Tensor, truth: torch.Tensor, data_range: torch.Tensor | float | None = None
) -> torch.Tensor:
    """10·log10(range² / MSE) per grid, range = max − min of the truth by default."""
    x = prediction.double()
    y = truth.double()
    r = (
        truth_range(y)
        if data_range is None
        else torch.as_tensor(data_range, dtype=torch.float64, device=x.device)
    )
    mse = ((x - y) ** 2).mean(dim=GRID_DIMS)
    return 10 * torch.log10(r**2 / mse)


def grid_scores(prediction: torch.Tensor, truth: torch.Tensor, win_size: int = 7) -> dict[str, torch.Tensor]:
    """All four scores without any alignment; leading dimensions broadcast.

    Returns
    -------
    dict
        ``ssim``, ``psnr``, ``cc``, ``nmae``, each of the broadcast leading shape (float64).
    """
    x, y = torch.broadcast_tensors(prediction.double(), truth.double())
    r = truth_range(y)
    return {
        "ssim": ssim3d(x, y, r, win_size),
        "psnr": psnr(x, y, r),
        "cc": map_cc(x, y),
        "nmae": nmae(x, y),
    }


