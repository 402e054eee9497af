"""Validation during training: the validation split scored on its regular grids.

Each crystal is predicted with ``val_samples`` latent samples, every sample is scored against
the truth under the 24 proper rotations of the cube (``scoring.alignment``), the best score per
crystal is kept and the means over the crystals are reported. Each process scores a strided
share of the crystals; the sums are all-reduced. The validation set must be a validation
split: never select on a test split.

Beside the scores, the same pass records the study's instruments (docs/model.md, "What
validation records"): the control (each crystal predicted from another validation crystal's
pattern with its own composition; the CC drop is model CC − control CC), the electrons the
predicted densities hold, and the posterior-collapse diagnostics of the two encoders
(:mod:`.latent_stats`).
"""

from __future__ import annotations

import logging
from typing import Any

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Dataset, Subset

from pymatgen_crystalnet.model.cell_inputs import cell_tensors
from pymatgen_crystalnet.model.crystalnet import CrystalNet, grid_points
from pymatgen_crystalnet.scoring.alignment import best_scores, rotation_scores
from pymatgen_crystalnet.training.config import TrainingConfig
from pymatgen_crystalnet.training.distributed import DistEnv
from pymatgen_crystalnet.training.epoch import autocast, epoch_seed
from pymatgen_crystalnet.training.latent_stats import LatentStats

__all__ = ["VAL_KEYS", "control_partners", "truth_grid", "validate_model"]

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


def control_partners(systems: list[str] | None, n: int) -> list[int]:
    """The crystal whose pattern each of ``n`` crystals gets in the control: a fixed pairing.

    Within each crystal system (when known) every crystal takes the pattern of the next one of
    its system (cyclically). The crystals alone in their system take each other's in a cycle
    of their own, and a last one alone takes the next crystal's overall. Without systems the
    pairing is i → i + 1 (cyclically). Every crystal gets another crystal's pattern when
    ``n ≥ 2``.
    """
    if n < 2:
        return list(range(n))
    partner = [(i + 1) % n for i in range(n)]
    if systems is not None:
        groups: dict[str, list[int]] = {}
        for i, system in enumerate(systems[:n]):
            groups.setdefault(str(system), []).append(i)
        alone = [m[0] for m in groups.values() if len(m) == 1]
        cycles = [m for m in groups.values() if len(m) > 1] + ([alone] if len(alone) > 1 else [])
        for members in cycles:
            for j, i in enumerate(members):
                partner[i] = members[(j + 1) % len(members)]
    return partner


def _crystal_systems(dataset: Dataset) -> list[str] | None:
    base = getattr(dataset, "base", dataset)
    data = getattr(base, "data", None)
    systems = getattr(data, "crystal_system", None)
    return None if systems is None else [str(s) for s in systems]


@torch.no_grad()
def validate_model(
    model: CrystalNet,
    dataset: Dataset,
    config: TrainingConfig,
    env: DistEnv,
    autocast_dtype: torch.dtype | None = None,
) -> dict[str, Any]:
    """Mean best-of-samples, best-of-rotations scores of ``model`` on ``dataset``, and instruments.

    Parameters
    ----------
    model
        The network (not a DDP wrapper: each process predicts its own share).
    dataset
        Validation split on a regular grid.
    config
        Training settings (``val_max_crystals``, ``val_batch_size``, ``val_samples``,
        ``val_control``, ``predict_batch_points``, ``num_workers``, ``seed``).
    env
        Distributed environment.
    autocast_dtype
        Mixed-precision dtype, or None.

    Returns
    -------
    dict
        ``val_ssim``, ``val_cc``, ``val_nmae``, ``val_psnr``, ``val_crystals``; with
        ``val_control``: ``val_control_cc``, ``val_control_nmae``, ``val_cc_drop``; when the
        items carry ``volume`` and ``electrons``: ``val_electrons`` (mean over crystals and
        samples of the electrons a predicted density holds in the cell, mean density × volume,
        divided by the formula's electrons), ``val_electrons_within_10`` (share of samples
        within 10 %), ``val_electrons_truth`` (the same ratio of the true grid: the grid's own
        sampling error); the encoder diagnostics of :class:`.latent_stats.LatentStats`
        (``val_kl_xrd``, ``val_sigma_xrd``, ``val_mu_spread_xrd``, ``val_active_xrd`` and the
        same for ``composition``); and ``kl_per_dim`` (``{"xrd": [...], "composition":
        [...]}``, the mean KL of each latent dimension; the trainer writes it to
        ``latent_kl.jsonl``, not to the history).
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
    control = cfg.val_control and n_val >= 2
    partners = control_partners(_crystal_systems(dataset), n_val) if control else []
    inputs = getattr(dataset, "base", dataset)  # the partners' patterns, without their grids
    gen = torch.Generator(device=device)
    gen.manual_seed(epoch_seed(cfg.seed, 0, 2))
    gen_control = torch.Generator(device=device)
    gen_control.manual_seed(epoch_seed(cfg.seed, 0, 4))
    # sums: 4 scores, crystals, control cc, control nmae, electron ratio, within 10 %, samples,
    # truth ratio, crystals with electrons
    sums = torch.zeros(len(VAL_KEYS) + 8, device=device, dtype=torch.float64)
    d = model.config.latent_dim
    stats = {"xrd": LatentStats(d, device), "composition": LatentStats(d, device)}
    was_training = model.training
    model.eval()
    done = 0
    try:
        for batch in loader:
            rows_here = indices[done : done + batch["xrd"].shape[0]]
            done += len(rows_here)
            truth = truth_grid(batch).to(device)
            xrd = batch["xrd"].to(device).float()
            comp = batch["composition"].to(device).float()
            n = truth.shape[-1]
            with autocast(device, autocast_dtype):
                pred = model.predict_grid(
                    xrd, comp, n=n, k=cfg.val_samples, batch_points=cfg.predict_batch_points, generator=gen,
                    **cell_tensors(batch, device),
                )
                enc = model.encode(xrd, comp)
            pred = pred.float()
            scores = best_scores(rotation_scores(pred, truth))
            sums[: len(VAL_KEYS)] += torch.stack([scores[k].sum() for k in VAL_KEYS])
            sums[len(VAL_KEYS)] += truth.shape[0]
            stats["xrd"].add(enc["mu_xrd"].float(), enc["sigma_xrd"].float())
            if model.config.uses_composition:
                stats["composition"].add(enc["mu_composition"].float(), enc["sigma_composition"].float())
            if control:
                other = torch.stack([torch.as_tensor(inputs[partners[i]]["xrd"]) for i in rows_here])
                other = other.to(device).float()
                with autocast(device, autocast_dtype):
                    pred_c = model.predict_grid(
                        other, comp, n=n, k=cfg.val_samples, batch_points=cfg.predict_batch_points,
                        generator=gen_control, **_control_cell(model, batch, other, device),
                    )
                ctrl = best_scores(rotation_scores(pred_c.float(), truth))
                sums[len(VAL_KEYS) + 1] += ctrl["cc"].sum()
                sums[len(VAL_KEYS) + 2] += ctrl["nmae"].sum()
            if "volume" in batch and "electrons" in batch:
                volume = batch["volume"].to(device).double()
                electrons = batch["electrons"].to(device).double().clamp_min(1e-12)
                held = pred.double().mean(dim=(-3, -2, -1)) * volume / electrons  # (k, B)
                sums[len(VAL_KEYS) + 3] += held.sum()
                sums[len(VAL_KEYS) + 4] += ((held - 1.0).abs() <= 0.1).double().sum()
                sums[len(VAL_KEYS) + 5] += held.numel()
                sums[len(VAL_KEYS) + 6] += (truth.double().mean(dim=(-3, -2, -1)) * volume / electrons).sum()
                sums[len(VAL_KEYS) + 7] += truth.shape[0]
    finally:
        model.train(was_training)
    if env.distributed:
        dist.all_reduce(sums)
        for s in stats.values():
            s.all_reduce()
    count = max(sums[len(VAL_KEYS)].item(), 1.0)
    out: dict[str, Any] = {f"val_{k}": sums[i].item() / count for i, k in enumerate(VAL_KEYS)}
    out["val_crystals"] = int(sums[len(VAL_KEYS)].item())
    if control:
        out["val_control_cc"] = sums[len(VAL_KEYS) + 1].item() / count
        out["val_control_nmae"] = sums[len(VAL_KEYS) + 2].item() / count
        out["val_cc_drop"] = out["val_cc"] - out["val_control_cc"]
    n_samples = sums[len(VAL_KEYS) + 5].item()
    if n_samples > 0:
        out["val_electrons"] = sums[len(VAL_KEYS) + 3].item() / n_samples
        out["val_electrons_within_10"] = sums[len(VAL_KEYS) + 4].item() / n_samples
        out["val_electrons_truth"] = sums[len(VAL_KEYS) + 6].item() / max(sums[len(VAL_KEYS) + 7].item(), 1.0)
    out.update(stats["xrd"].summary("val_xrd"))
    kl_dims = {"xrd": stats["xrd"].kl_per_dim()}
    if model.config.uses_composition:
        out.update(stats["composition"].summary("val_composition"))
        kl_dims["composition"] = stats["composition"].kl_per_dim()
    out["kl_per_dim"] = kl_dims
    return out


def _control_cell(model: Any, batch: dict, patterns: torch.Tensor, device: Any) -> dict[str, torch.Tensor]:
    """The control's cell inputs: the partners' patterns read on each crystal's own cell."""
    cells = cell_tensors(batch, device)
    spec = model.config.cell_inputs
    if not cells or not spec.needed or "lattice" not in batch:
        return cells
    arrays = spec.arrays(patterns.detach().cpu().numpy(), batch["lattice"].cpu().numpy())
    return {k: torch.from_numpy(v).to(device) for k, v in arrays.items()}
