"""Validation during training: the validation split scored on its regular grids.

Each crystal is predicted with ``val_samples`` latent samples, every sample is scored against
the truth under the 24 proper rotations of the cube (``scoring.alignment``), the best score per
crystal is kept and the means over the crystals are reported. Each process scores a strided
share of the crystals; the sums are all-reduced. The validation set must be a validation
split: never select on a test split.
"""

from __future__ import annotations

import logging

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Dataset, Subset

from pymatgen_crystalnet.model.cell_inputs import cell_tensors
from pymatgen_crystalnet.model.crystalnet import CrystalNet, grid_points
from pymatgen_crystalnet.scoring.alignment import best_scores, rotation_scores
from pymatgen_crystalnet.training.config import TrainingConfig
from pymatgen_crystalnet.training.distributed import DistEnv
from pymatgen_crystalnet.training.epoch import autocast, epoch_seed

__all__ = ["VAL_KEYS", "truth_grid", "validate_model"]

logger = logging.getLogger(__name__)

#: scores reported (as ``val_<key>``) after validation
VAL_KEYS = ("ssim", "cc", "nmae", "psnr")


def truth_grid(batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """The (B, n, n, n) true densities of a validation batch, after checking its layout.

    Raises
    ------
    ValueError
        If the items do not hold an n³ grid listed in C order (see
        :func:`~pymatgen_crystalnet.model.crystalnet.grid_points`).
    """
    density = batch["density"]
    n_points = density.shape[1]
    n = round(n_points ** (1 / 3))
    if n**3 != n_points:
        raise ValueError(f"Validation items must hold the densities of an n³ grid; got {n_points} points.")
    expected = grid_points(n)
    if not torch.allclose(batch["points"][0].float(), expected, atol=1e-5):
        raise ValueError(
            "Validation items must list the grid points in C order, point (i, j, k) at "
            f"fractional (i/n, j/n, k/n) with n = {n} (see model.crystalnet.grid_points)."
        )
    return density.reshape(-1, n, n, n)


@torch.no_grad()
def validate_model(
    model: CrystalNet,
    dataset: Dataset,
    config: TrainingConfig,
    env: DistEnv,
    autocast_dtype: torch.dtype | None = None,
) -> dict[str, float]:
    """Mean best-of-samples, best-of-rotations scores of ``model`` on ``dataset``.

    Parameters
    ----------
    model
        The network (not a DDP wrapper: each process predicts its own share).
    dataset
        Validation split on a regular grid.
    config
        Training settings (``val_max_crystals``, ``val_batch_size``, ``val_samples``,
        ``predict_batch_points``, ``num_workers``, ``seed``).
    env
        Distributed environment.
    autocast_dtype
        Mixed-precision dtype, or None.

    Returns
    -------
    dict
        ``val_ssim``, ``val_cc``, ``val_nmae``, ``val_psnr`` and ``val_crystals``.
    """
    cfg = config
    device = env.device
    n_val = len(dataset)
    if cfg.val_max_crystals:
        n_val = min(n_val, cfg.val_max_crystals)
    indices = list(range(n_val))[env.rank :: env.world_size]
    loader = DataLoader(
        Subset(dataset, indices),
        batch_size=cfg.val_batch_size,
        shuffle=False,
        num_workers=cfg.num_workers,
    )
    gen = torch.Generator(device=device)
    gen.manual_seed(epoch_seed(cfg.seed, 0, 2))
    sums = torch.zeros(len(VAL_KEYS) + 1, device=device, dtype=torch.float64)
    for batch in loader:
        truth = truth_grid(batch).to(device)
        with autocast(device, autocast_dtype):
            pred = model.predict_grid(
                batch["xrd"].to(device).float(),
                batch["composition"].to(device).float(),
                n=truth.shape[-1],
                k=cfg.val_samples,
                batch_points=cfg.predict_batch_points,
                generator=gen,
                **cell_tensors(batch, device),
            )
        scores = best_scores(rotation_scores(pred.float(), truth))
        sums[:-1] += torch.stack([scores[k].sum() for k in VAL_KEYS])
        sums[-1] += truth.shape[0]
    if env.distributed:
        dist.all_reduce(sums)
    count = max(sums[-1].item(), 1.0)
    out = {f"val_{k}": sums[i].item() / count for i, k in enumerate(VAL_KEYS)}
    out["val_crystals"] = int(sums[-1].item())
    return out
