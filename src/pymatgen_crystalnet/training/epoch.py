"""One training epoch: the step loop (augmentation, latent noise, L1 + β·KL, optimizer step).

Everything random is a function of ``(seed, epoch)`` (see :func:`epoch_seed`): the DataLoader
worker seeds and one generator per epoch that draws the augmentation and the latent noise for
the *global* batch, of which each process keeps its own rows (:func:`global_draws`). Hence a
resumed run equals an uninterrupted one, and W processes draw what one process draws for the
same global batch.

Two ways to get a batch:

- a dataset with ``prepared_batches = True``, ``n_points`` and a ``batch(indices,
  point_uniform, drop_uniform)`` method (the prepared crystals of
  :class:`~pymatgen_crystalnet.data.bank_batches.BankedCrystals`) builds the whole batch by
  array operations from the sampler's indices and uniform numbers that a second generator per
  epoch draws for the global batch (:func:`data_draws`), on the CPU;
- any other dataset goes through the ``DataLoader`` (items collated one by one).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from typing import Any

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from pymatgen_crystalnet.model.cell_inputs import cell_tensors
from pymatgen_crystalnet.model.config import CrystalNetConfig
from pymatgen_crystalnet.training.augment import add_noise_relu, shift_patterns
from pymatgen_crystalnet.training.config import TrainingConfig
from pymatgen_crystalnet.training.distributed import DistEnv
from pymatgen_crystalnet.training.objective import kl_weight, training_loss
from pymatgen_crystalnet.training.schedule import cosine_restarts_lr

__all__ = ["autocast", "data_draws", "epoch_seed", "global_draws", "train_epoch"]

logger = logging.getLogger(__name__)


def epoch_seed(seed: int, epoch: int, stream: int) -> int:
    """A distinct, reproducible 63-bit seed for each (seed, epoch, stream)."""
    return (seed * 1_000_003 + epoch * 7_919 + stream * 104_729) % (2**63 - 1)


def autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    """``torch.autocast`` to ``dtype`` on ``device``, or a no-op when ``dtype`` is None."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def global_draws(
    gen: torch.Generator,
    n_local: int,
    model_config: CrystalNetConfig,
    max_shift_bins: int,
    env: DistEnv,
) -> dict[str, torch.Tensor]:
    """Random numbers for the global batch; this process keeps rows ``rank::world``.

    ``DistributedSampler`` gives process r the global batch positions r, r + W, …, so
    slicing the same way hands every crystal the numbers it gets in a 1-process run.
    """
    world, rank = env.world_size, env.rank
    n = n_local * world
    c, k, dev = model_config, max_shift_bins, env.device
    draws = {
        "shift": torch.randint(-k, k + 1, (n,), generator=gen, device=dev),
        "xrd_noise": torch.randn((n, c.n_xrd_bins), generator=gen, device=dev),
        "composition_noise": torch.randn((n, c.n_elements), generator=gen, device=dev),
        "eps_xrd": torch.randn((n, c.latent_dim), generator=gen, device=dev),
        "eps_composition": torch.randn((n, c.latent_dim), generator=gen, device=dev),
    }
    return {key: value[rank::world] for key, value in draws.items()}


def data_draws(
    gen: torch.Generator, n_local: int, n_points: int, with_drop: bool, env: DistEnv
) -> dict[str, torch.Tensor]:
    """Uniform numbers of the prepared-batch path for the global batch; rows ``rank::world``.

    ``points``: ``(n_local, n_points, 3)`` (stratified query points); ``drop``: ``(n_local,)``
    (the ``drop_element`` choice), only when ``with_drop``. ``gen`` is a CPU generator.
    """
    world, rank = env.world_size, env.rank
    n = n_local * world
    draws = {"points": torch.rand((n, n_points, 3), generator=gen)}
    if with_drop:
        draws["drop"] = torch.rand((n,), generator=gen)
    return {key: value[rank::world] for key, value in draws.items()}


def _prepared_batches(
    dataset: Any, sampler: DistributedSampler, local_batch: int, gen: torch.Generator, env: DistEnv
) -> Iterator[dict[str, torch.Tensor]]:
    """Batches of a dataset with ``batch(...)``, in the sampler's order, last partial one dropped."""
    order = torch.as_tensor(list(iter(sampler)), dtype=torch.long)
    with_drop = getattr(dataset, "composition_mode", "full") == "drop_element"
    for step in range(len(order) // local_batch):
        idx = order[step * local_batch : (step + 1) * local_batch]
        r = data_draws(gen, local_batch, dataset.n_points, with_drop, env)
        yield dataset.batch(idx, r["points"], r.get("drop"))


def train_epoch(
    epoch: int,
    *,
    model: torch.nn.Module,
    train_model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    loader: DataLoader,
    sampler: DistributedSampler,
    dataset: Dataset,
    model_config: CrystalNetConfig,
    config: TrainingConfig,
    cycles: tuple[int, ...] | list[int],
    env: DistEnv,
    autocast_dtype: torch.dtype | None = None,
    progress: bool = False,
) -> dict[str, float]:
    """Run one epoch of optimizer steps and return its mean losses.

    Parameters
    ----------
    epoch
        0-based epoch number (it fixes the schedule position and every random draw).
    model
        The bare network (its parameters are clipped).
    train_model
        What the forward pass calls: ``model`` or its DDP / ``torch.compile`` wrapper.
    optimizer, loader, sampler, dataset
        Optimizer, training DataLoader, its ``DistributedSampler`` and the dataset (told the
        epoch when it has ``set_epoch``).
    model_config, config
        Network and training settings.
    cycles
        Restart cycle lengths (epochs) of the learning-rate schedule.
    env
        Distributed environment (device, rank, world size).
    autocast_dtype
        Mixed-precision dtype, or None.
    progress
        Show a tqdm bar (on the main process).

    Returns
    -------
    dict
        ``lr`` (the last step's), ``train_loss``, ``train_l1``, ``train_kl_xrd``,
        ``train_kl_composition`` (means over the crystals of all processes), ``crystals``,
        ``points`` (counts over all processes), ``steps`` (optimizer steps taken),
        ``data_s`` (seconds this process spent getting batches) and ``beta`` (the KL weight
        of the last step).

    Raises
    ------
    FloatingPointError
        If the loss becomes non-finite.
    """
    cfg = config
    device = env.device
    model.train()
    sampler.set_epoch(epoch)
    if hasattr(dataset, "set_epoch"):
        dataset.set_epoch(epoch)
    torch.manual_seed(epoch_seed(cfg.seed, epoch, 0))  # DataLoader worker seeds
    gen = torch.Generator(device=device)
    gen.manual_seed(epoch_seed(cfg.seed, epoch, 1))
    steps = len(loader)
    prepared = getattr(dataset, "prepared_batches", False) is True
    batches: Any = loader
    if prepared:
        data_gen = torch.Generator()
        data_gen.manual_seed(epoch_seed(cfg.seed, epoch, 3))
        batches = _prepared_batches(dataset, sampler, loader.batch_size, data_gen, env)
    sums = torch.zeros(5, device=device, dtype=torch.float64)
    n_points = 0
    bar = None
    if progress and env.is_main:
        from tqdm.auto import tqdm

        bar = tqdm(total=steps, desc=f"epoch {epoch + 1}/{cfg.epochs}", leave=False, dynamic_ncols=True)
    lr = cfg.lr
    taken = 0
    data_s = 0.0
    source = iter(batches)
    for step in range(steps):
        t_data = time.perf_counter()
        batch = next(source)
        data_s += time.perf_counter() - t_data
        lr = cosine_restarts_lr(epoch + step / steps, cycles, cfg.lr, cfg.lr_min)
        for group in optimizer.param_groups:
            group["lr"] = lr
        xrd = batch["xrd"].to(device, non_blocking=True).float()
        composition = batch["composition"].to(device, non_blocking=True).float()
        points = batch["points"].to(device, non_blocking=True).float()
        density = batch["density"].to(device, non_blocking=True).float()
        b = xrd.shape[0]
        r = global_draws(gen, b, model_config, cfg.max_shift_bins, env)
        xrd = add_noise_relu(shift_patterns(xrd, r["shift"]), r["xrd_noise"], cfg.xrd_noise)
        composition = add_noise_relu(composition, r["composition_noise"], cfg.composition_noise)
        with autocast(device, autocast_dtype):
            out = train_model(
                xrd,
                composition,
                points,
                sample=True,
                eps=(r["eps_xrd"], r["eps_composition"]),
                **cell_tensors(batch, device),  # lattice, hkl, amplitude where the batch has them
            )
        progress_epochs = epoch + step / steps
        terms = training_loss(out, density, model_config, cfg, progress_epochs)
        loss, l1, kl_x, kl_c = terms["loss"], terms["l1"], terms["kl_xrd"], terms["kl_composition"]
        if not torch.isfinite(loss):
            raise FloatingPointError(
                f"Non-finite loss at epoch {epoch + 1}, step {step}: l1={l1.item()}, "
                f"kl_xrd={kl_x.item()}, kl_composition={kl_c.item()}. Lower the learning "
                "rate or check the data for NaN/inf."
            )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        taken += 1
        parts = torch.stack([loss, l1, kl_x, kl_c]).detach().double() * b
        sums += torch.cat([parts, torch.tensor([b], device=device, dtype=torch.float64)])
        n_points += points.shape[0] * points.shape[1]
        if bar is not None:
            bar.update(1)
            if step % 10 == 0:
                bar.set_postfix(loss=f"{loss.item():.4f}", lr=f"{lr:.2e}")
    if bar is not None:
        bar.close()
    if env.distributed:
        dist.all_reduce(sums)
    count = max(sums[4].item(), 1.0)
    return {
        "lr": lr,
        "train_loss": sums[0].item() / count,
        "train_l1": sums[1].item() / count,
        "train_kl_xrd": sums[2].item() / count,
        "train_kl_composition": sums[3].item() / count,
        "crystals": count,
        "points": float(n_points * env.world_size),
        "steps": taken,
        "data_s": data_s,
        "beta": kl_weight(model_config, cfg, epoch + (steps - 1) / max(steps, 1)),
    }
