"""Scores best over the 24 grid rotations (and the grid shifts), batched in torch.

A density predicted on the fractional grid may be the truth turned or shifted:

- *rotation-only* (the paper's protocol): the 24 proper rotations of the cubic grid
  (:func:`~.rotations.rotations`); every score is the best over them.
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
:func:`~.reference.reference_scores` is the scikit-image loop the torch path is tested against.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from pymatgen_crystalnet.scoring.density_metrics import (
    GRID_DIMS,
    LOWER_IS_BETTER,
    METRICS,
    SSIM_K1,
    SSIM_K2,
    box_mean,
    check_window,
    is_flat,
    truth_range,
)
from pymatgen_crystalnet.scoring.rotations import rotations, turn_index, turn_many

__all__ = [
    "DEFAULT_MAX_ELEMENTS",
    "AlignedScores",
    "aligned_scores",
    "best_scores",
    "rotation_scores",
    "translation_scores",
]

#: Default bound on the values of the largest intermediate tensor on a CPU (2^20 float64 = 8 MiB:
#: chunks that stay in cache run several times faster than one large batch) and on a GPU
#: (2^25 float64 = 256 MiB).
DEFAULT_MAX_ELEMENTS: dict[str, int] = {"cpu": 1 << 20, "cuda": 1 << 25}


def circular_box_mean(x: torch.Tensor, win_size: int) -> torch.Tensor:
    """Uniform-window means of periodic grids: value p is the mean over p … p + w − 1 (mod n)."""
    lead = x.shape[:-3]
    w = win_size - 1
    y = F.pad(x.reshape(-1, 1, *x.shape[-3:]), (0, w, 0, w, 0, w), mode="circular")
    return box_mean(y, win_size).reshape(*lead, *x.shape[-3:])


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
        :func:`~.rotations.rotations` (index 0: as predicted).
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
    c1 = (SSIM_K1 * r) ** 2
    c2 = (SSIM_K2 * r) ** 2
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
    return num1.div_(den).mean(dim=GRID_DIMS)


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

    data_range = truth_range(y)  # (B,)
    y_sum = y.sum(dim=GRID_DIMS)
    ux, uxx = box_mean(x, w), box_mean(x * x, w)  # (S, B, m³)
    uy, uyy = box_mean(y, w), box_mean(y * y, w)  # (B, m³)
    x_mean = x.mean(dim=GRID_DIMS)  # (S, B)
    y_mean = y.mean(dim=GRID_DIMS)  # (B,)
    xc = (x - x_mean[..., None, None, None]).flatten(-3)  # (S, B, N)
    x_ss = (xc * xc).sum(dim=-1)  # (S, B)
    y_ss = ((y - y_mean[:, None, None, None]) ** 2).sum(dim=GRID_DIMS)  # (B,)
    norms = torch.sqrt(x_ss * y_ss).clamp_min(tiny)  # (S, B)
    flat = is_flat(x_ss, x_mean, n_points) | is_flat(y_ss, y_mean, n_points)[None]
    norms = torch.where(flat, torch.full_like(norms, torch.inf), norms)  # CC of a constant grid: 0
    mean_gap = (x_mean - y_mean) ** 2  # (S, B)
    x_fft = circ_uy = circ_uyy = None
    if translation:
        x_fft = torch.fft.rfftn(xc.reshape(x.shape), dim=GRID_DIMS)
        circ_uy, circ_uyy = circular_box_mean(y, w), circular_box_mean(y * y, w)  # (B, n³)

    def mse_of(cross: torch.Tensor) -> torch.Tensor:
        # Σ(x − y)²/N from the centred cross term: (Σxc² + Σyc² − 2Σxc·yc)/N + (x̄ − ȳ)²
        return ((x_ss + y_ss - 2 * cross) / n_points + mean_gap).clamp_min(0.0)

    def psnr_of(mse: torch.Tensor) -> torch.Tensor:
        return 10 * torch.log10(data_range**2 / mse)

    per_rot: dict[str, list[torch.Tensor]] = {k: [] for k in METRICS}
    shifted: dict[str, list[torch.Tensor]] = {k: [] for k in METRICS}
    for start in range(0, len(rots), rot_chunk):
        chunk = undo[start : start + rot_chunk]
        ry = turn_many(y, turn_index(n, chunk, 0, device))  # (R, B, n, n, n)
        turn_m = turn_index(m, chunk, 0, device)  # window means commute with turns
        r_uy, r_uyy = turn_many(uy, turn_m), turn_many(uyy, turn_m)
        ryc = (ry - y_mean[:, None, None, None]).flatten(-3)  # (R, B, N)
        cross = torch.einsum("sbn,rbn->rsb", xc, ryc)  # Σ xc · R⁻¹yc
        per_rot["cc"].append(cross / norms)
        per_rot["psnr"].append(psnr_of(mse_of(cross)))
        diff = x[None] - ry[:, None]
        per_rot["nmae"].append(diff.abs_().sum(dim=GRID_DIMS) / y_sum)
        del diff
        uxy = box_mean(x[None] * ry[:, None], w)  # (R, S, B, m³)
        per_rot["ssim"].append(_ssim_outer(ux, uxx, r_uy, r_uyy, uxy, data_range, w))
        del uxy
        if not translation:
            continue
        # cross-correlation over all shifts t: corr[t] = Σ_i xc(i) · ryc(i − t)
        y_fft = torch.fft.rfftn(ryc.reshape(ry.shape), dim=GRID_DIMS)
        corr = torch.fft.irfftn(x_fft[None] * torch.conj(y_fft)[:, None], s=(n, n, n), dim=GRID_DIMS)
        corr = corr.flatten(-3)  # (R, S, B, N)
        del y_fft, ryc
        top = torch.topk(corr, k=min(n_peaks, n_points), dim=-1)
        del corr
        best: dict[str, torch.Tensor] = {"cc": top.values[..., 0] / norms}
        best["psnr"] = psnr_of(mse_of(top.values[..., 0]))  # the CC peak also minimises the MSE
        turn_c = turn_index(n, chunk, w - 1, device)
        circ_y, circ_yy = turn_many(circ_uy, turn_c), turn_many(circ_uyy, turn_c)
        for p in range(top.indices.shape[-1]):
            flat = top.indices[..., p]
            t = torch.stack([flat // (n * n), (flat // n) % n, flat % n], dim=-1)  # (R, S, B, 3)
            ys = _gather_shifted(ry, t, n, n)  # (R, S, B, n, n, n): ry rolled by t
            diff = x[None] - ys
            scores = {"nmae": diff.abs_().sum(dim=GRID_DIMS) / y_sum}
            del diff
            uxy = box_mean(ys.mul_(x[None]), w)
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
    check_window(tuple(truth.shape), win_size)
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


