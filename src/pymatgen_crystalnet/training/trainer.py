"""The CrystalNet trainer: L1 + β·KL, Adam, SGDR, augmentation, validation, checkpoints, DDP.

Data contract
-------------
Any ``torch.utils.data.Dataset`` whose items are dicts::

    {"xrd": (1024,) float32, "composition": (118,) float32,
     "points": (P, 3) float32 fractional coordinates, "density": (P,) float32 e/Å³,
     "index": int}

(the default collate stacks them into a batch). Training items carry P query points per
crystal (stratified sampling, ``n_strata³`` points); validation items carry the n³ points of
the regular grid in C order (``grid_points(n)``) with the density there. A dataset with a
``set_epoch(epoch)`` method is told the epoch before each one, so it can redraw its points
reproducibly. The validation set must be a validation split: never select on a test split.

Reproducibility
---------------
Everything random is a function of ``(seed, epoch)``: the data order (``DistributedSampler``
with that seed, also for a single process), and one RNG per epoch that draws the
augmentation and the latent noise for the *global* batch, of which each process takes its
own rows. Hence a resumed run equals an uninterrupted one exactly, and a run on W processes
draws the same numbers as a single-process run with the same global batch; with BatchNorm
statistics synchronised across processes (``model/layers.py``) the two agree up to
floating-point reduction order.

Run folder
----------
``training.json`` (configs, data description), ``metrics.jsonl`` and ``metrics.csv`` (one row
per epoch), ``checkpoints/`` (resumable snapshots, see ``checkpoint.py``) and ``best/`` (the
weights with the best validation score, loadable with ``model.weights.load_model``).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import math
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Subset

from pymatgen_crystalnet.atomic import atomic_write_bytes, atomic_write_json
from pymatgen_crystalnet.model.config import CrystalNetConfig
from pymatgen_crystalnet.model.crystalnet import CrystalNet, grid_points
from pymatgen_crystalnet.model.layers import set_batchnorm_sync
from pymatgen_crystalnet.model.target import loss_terms
from pymatgen_crystalnet.scoring.alignment import best_scores, rotation_scores
from pymatgen_crystalnet.training.augment import add_noise_relu, shift_patterns
from pymatgen_crystalnet.training.checkpoint import (
    CheckpointError,
    latest_checkpoint,
    load_checkpoint,
    publish_best,
    recover_run_folder,
    save_checkpoint,
)
from pymatgen_crystalnet.training.config import TrainingConfig
from pymatgen_crystalnet.training.distributed import DistEnv, init_distributed
from pymatgen_crystalnet.training.schedule import cosine_restarts_lr, scale_cycles

__all__ = ["Trainer", "train"]

logger = logging.getLogger(__name__)

_VAL_KEYS = ("ssim", "cc", "nmae", "psnr")
_CSV_FIELDS = (
    "epoch",
    "step",
    "lr",
    "train_loss",
    "train_l1",
    "train_kl_xrd",
    "train_kl_composition",
    "val_ssim",
    "val_cc",
    "val_nmae",
    "val_psnr",
    "val_crystals",
    "is_best",
    "epoch_time_s",
    "crystals_per_s",
    "points_per_s",
)


def _epoch_seed(seed: int, epoch: int, stream: int) -> int:
    """A distinct, reproducible 63-bit seed for each (seed, epoch, stream)."""
    return (seed * 1_000_003 + epoch * 7_919 + stream * 104_729) % (2**63 - 1)


class Trainer:
    """Train a CrystalNet on a dataset; resumable and distributed.

    Parameters
    ----------
    model_config
        The network's hyperparameters.
    config
        Training hyperparameters.
    train_dataset
        Training split (see the module docstring for the item contract).
    val_dataset
        Validation split on a regular grid, or None to skip validation (then the last
        epoch's weights are published as ``best``).
    out_dir
        Run folder (created). An existing run there is continued only with ``resume``.
    device
        ``"auto"`` (CUDA if available), ``"cpu"``, ``"cuda"``, …; under ``torchrun`` each
        process takes its ``LOCAL_RANK`` GPU.
    resume
        Continue from the newest checkpoint in ``out_dir`` (a fresh start if there is none).
    progress
        Show a tqdm progress bar (rank 0 only).
    data_description
        JSON-serialisable description of the data, stored with the run and the weights
        (taken from ``train_dataset.metadata`` when not given).
    env
        Distributed environment; by default read from ``torchrun``'s variables.
    """

    def __init__(
        self,
        model_config: CrystalNetConfig,
        config: TrainingConfig,
        train_dataset: Dataset,
        val_dataset: Dataset | None,
        out_dir: str | Path,
        *,
        device: str | torch.device = "auto",
        resume: bool = False,
        progress: bool = True,
        data_description: dict[str, Any] | None = None,
        env: DistEnv | None = None,
    ) -> None:
        self.model_config = model_config
        self.config = config
        self.train_dataset = train_dataset
        self.val_dataset = val_dataset
        self.out_dir = Path(out_dir)
        self.env = env or init_distributed(device)
        self.device = self.env.device
        self.progress = progress
        self.data_description = data_description or dict(getattr(train_dataset, "metadata", {}) or {})
        world = self.env.world_size
        if config.batch_size % world:
            raise ValueError(
                f"batch_size {config.batch_size} must be divisible by the number of processes ({world})."
            )
        self.local_batch = config.batch_size // world
        if len(train_dataset) < config.batch_size:
            raise ValueError(
                f"The training set has {len(train_dataset)} crystals, fewer than one batch "
                f"({config.batch_size})."
            )
        self.cycles = scale_cycles(config.restart_cycles, config.epochs)

        # Model, optimizer. The same seed on every process gives the same initial weights.
        torch.manual_seed(config.seed)
        self.model = CrystalNet(model_config).to(self.device)
        set_batchnorm_sync(self.model, self.env.distributed)
        self.optimizer = torch.optim.Adam(
            self.model.parameters(), lr=config.lr, weight_decay=config.weight_decay
        )
        self.start_epoch = 0
        self.global_step = 0
        self.history: list[dict[str, Any]] = []
        self.best: dict[str, Any] | None = None
        self._prepare_run_folder(resume)

        wrapped: torch.nn.Module = self.model
        if self.env.distributed:
            from torch.nn.parallel import DistributedDataParallel

            wrapped = DistributedDataParallel(
                self.model, device_ids=[self.device] if self.device.type == "cuda" else None
            )
        if config.compile:
            wrapped = torch.compile(wrapped)
        self.train_model = wrapped

        self.sampler = DistributedSampler(
            train_dataset,
            num_replicas=world,
            rank=self.env.rank,
            shuffle=True,
            seed=config.seed,
            drop_last=False,
        )
        self.loader = DataLoader(
            train_dataset,
            batch_size=self.local_batch,
            sampler=self.sampler,
            drop_last=True,
            num_workers=config.num_workers,
            pin_memory=self.device.type == "cuda",
        )
        amp = config.amp == "bf16" or (config.amp == "auto" and self.device.type == "cuda")
        self.autocast_dtype = torch.bfloat16 if amp else None

    # ------------------------------------------------------------------ run folder
    def _run_record(self) -> dict[str, Any]:
        return {
            "model_config": self.model_config.as_dict(),
            "training_config": self.config.as_dict(),
            "restart_cycles_scaled": list(self.cycles),
            "data": self.data_description,
            "world_size": self.env.world_size,
        }

    def _prepare_run_folder(self, resume: bool) -> None:
        if self.env.is_main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            recover_run_folder(self.out_dir)
        if self.env.distributed:
            dist.barrier()
        ckpt = latest_checkpoint(self.out_dir) if self.out_dir.is_dir() else None
        if ckpt is not None and not resume:
            raise CheckpointError(
                f"{self.out_dir} already holds a training run ({ckpt.name}); pass resume=True "
                "(--resume) to continue it, or choose another output folder."
            )
        if ckpt is not None:
            state = load_checkpoint(ckpt, self.model, self.optimizer)
            saved_cfg = TrainingConfig.from_dict(state["training_config"])
            if saved_cfg != self.config:
                changed = [k for k, v in asdict(self.config).items() if asdict(saved_cfg).get(k) != v]
                logger.warning(
                    "Resuming with changed training settings: %s. The continuation will "
                    "differ from the original run.",
                    ", ".join(changed),
                )
            self.start_epoch = int(state["epoch"])
            self.global_step = int(state["global_step"])
            self.history = list(state["history"])
            self.best = state.get("best")
            logger.info("Resumed from %s (epoch %d).", ckpt, self.start_epoch)
        elif self.env.is_main:
            atomic_write_json(self.out_dir / "training.json", self._run_record())

    def _write_metrics(self) -> None:
        lines = "".join(_json_line(row) for row in self.history)
        atomic_write_bytes(self.out_dir / "metrics.jsonl", lines.encode())
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=_CSV_FIELDS, extrasaction="ignore")
        writer.writeheader()
        for row in self.history:
            writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in _CSV_FIELDS})
        atomic_write_bytes(self.out_dir / "metrics.csv", buf.getvalue().encode())

    # ------------------------------------------------------------------ one epoch
    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.autocast_dtype)

    def _global_draws(self, gen: torch.Generator, n_local: int) -> dict[str, torch.Tensor]:
        """Random numbers for the global batch; this process keeps rows ``rank::world``.

        ``DistributedSampler`` gives process r the global batch positions r, r + W, …, so
        slicing the same way hands every crystal the numbers it gets in a 1-process run.
        """
        world, rank = self.env.world_size, self.env.rank
        n = n_local * world
        c, k, dev = self.model_config, self.config.max_shift_bins, self.device
        draws = {
            "shift": torch.randint(-k, k + 1, (n,), generator=gen, device=dev),
            "xrd_noise": torch.randn((n, c.n_xrd_bins), generator=gen, device=dev),
            "composition_noise": torch.randn((n, c.n_elements), generator=gen, device=dev),
            "eps_xrd": torch.randn((n, c.latent_dim), generator=gen, device=dev),
            "eps_composition": torch.randn((n, c.latent_dim), generator=gen, device=dev),
        }
        return {key: value[rank::world] for key, value in draws.items()}

    def _train_epoch(self, epoch: int) -> dict[str, float]:
        cfg = self.config
        self.model.train()
        self.sampler.set_epoch(epoch)
        if hasattr(self.train_dataset, "set_epoch"):
            self.train_dataset.set_epoch(epoch)
        torch.manual_seed(_epoch_seed(cfg.seed, epoch, 0))  # DataLoader worker seeds
        gen = torch.Generator(device=self.device)
        gen.manual_seed(_epoch_seed(cfg.seed, epoch, 1))
        steps = len(self.loader)
        sums = torch.zeros(5, device=self.device, dtype=torch.float64)
        n_points = 0
        batches: Any = self.loader
        bar = None
        if self.progress and self.env.is_main:
            from tqdm.auto import tqdm

            bar = tqdm(
                self.loader,
                total=steps,
                desc=f"epoch {epoch + 1}/{cfg.epochs}",
                leave=False,
                dynamic_ncols=True,
            )
            batches = bar
        lr = cfg.lr
        for step, batch in enumerate(batches):
            lr = cosine_restarts_lr(epoch + step / steps, self.cycles, cfg.lr, cfg.lr_min)
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            xrd = batch["xrd"].to(self.device, non_blocking=True).float()
            composition = batch["composition"].to(self.device, non_blocking=True).float()
            points = batch["points"].to(self.device, non_blocking=True).float()
            density = batch["density"].to(self.device, non_blocking=True).float()
            b = xrd.shape[0]
            r = self._global_draws(gen, b)
            xrd = add_noise_relu(shift_patterns(xrd, r["shift"]), r["xrd_noise"], cfg.xrd_noise)
            composition = add_noise_relu(composition, r["composition_noise"], cfg.composition_noise)
            with self._autocast():
                out = self.train_model(
                    xrd,
                    composition,
                    points,
                    sample=True,
                    eps=(r["eps_xrd"], r["eps_composition"]),
                )
            terms = loss_terms(out, density, self.model_config)
            loss, l1, kl_x, kl_c = terms["loss"], terms["l1"], terms["kl_xrd"], terms["kl_composition"]
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"Non-finite loss at epoch {epoch + 1}, step {step}: l1={l1.item()}, "
                    f"kl_xrd={kl_x.item()}, kl_composition={kl_c.item()}. Lower the learning "
                    "rate or check the data for NaN/inf."
                )
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
            self.optimizer.step()
            self.global_step += 1
            parts = torch.stack([loss, l1, kl_x, kl_c]).detach().double() * b
            sums += torch.cat([parts, torch.tensor([b], device=self.device, dtype=torch.float64)])
            n_points += points.shape[0] * points.shape[1]
            if bar is not None and step % 10 == 0:
                bar.set_postfix(loss=f"{loss.item():.4f}", lr=f"{lr:.2e}")
        if bar is not None:
            bar.close()
        if self.env.distributed:
            dist.all_reduce(sums)
        count = max(sums[4].item(), 1.0)
        return {
            "lr": lr,
            "train_loss": sums[0].item() / count,
            "train_l1": sums[1].item() / count,
            "train_kl_xrd": sums[2].item() / count,
            "train_kl_composition": sums[3].item() / count,
            "crystals": count,
            "points": float(n_points * self.env.world_size),
        }

    # ------------------------------------------------------------------ validation
    def _truth_grid(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        density = batch["density"]
        n_points = density.shape[1]
        n = round(n_points ** (1 / 3))
        if n**3 != n_points:
            raise ValueError(
                f"Validation items must hold the densities of an n³ grid; got {n_points} points."
            )
        expected = grid_points(n)
        if not torch.allclose(batch["points"][0].float(), expected, atol=1e-5):
            raise ValueError(
                "Validation items must list the grid points in C order, point (i, j, k) at "
                f"fractional (i/n, j/n, k/n) with n = {n} (see model.crystalnet.grid_points)."
            )
        return density.reshape(-1, n, n, n)

    @torch.no_grad()
    def validate(self) -> dict[str, float] | None:
        """Scores on the validation split: 2 samples × 24 rotations, best per crystal, mean.

        Each process scores a strided share of the crystals; the sums are all-reduced.
        Returns None without a validation set.
        """
        if self.val_dataset is None:
            return None
        cfg = self.config
        n_val = len(self.val_dataset)
        if cfg.val_max_crystals:
            n_val = min(n_val, cfg.val_max_crystals)
        indices = list(range(n_val))[self.env.rank :: self.env.world_size]
        loader = DataLoader(
            Subset(self.val_dataset, indices),
            batch_size=cfg.val_batch_size,
            shuffle=False,
            num_workers=cfg.num_workers,
        )
        gen = torch.Generator(device=self.device)
        gen.manual_seed(_epoch_seed(cfg.seed, 0, 2))
        sums = torch.zeros(len(_VAL_KEYS) + 1, device=self.device, dtype=torch.float64)
        for batch in loader:
            truth = self._truth_grid(batch).to(self.device)
            with self._autocast():
                pred = self.model.predict_grid(
                    batch["xrd"].to(self.device).float(),
                    batch["composition"].to(self.device).float(),
                    n=truth.shape[-1],
                    k=cfg.val_samples,
                    batch_points=cfg.predict_batch_points,
                    generator=gen,
                )
            scores = best_scores(rotation_scores(pred.float(), truth))
            sums[:-1] += torch.stack([scores[k].sum() for k in _VAL_KEYS])
            sums[-1] += truth.shape[0]
        if self.env.distributed:
            dist.all_reduce(sums)
        count = max(sums[-1].item(), 1.0)
        out = {f"val_{k}": sums[i].item() / count for i, k in enumerate(_VAL_KEYS)}
        out["val_crystals"] = int(sums[-1].item())
        return out

    def _weights_metadata(self) -> dict[str, Any]:
        """What a user of the weights must know about the data they were trained on."""
        d = self.data_description
        sources = sorted((d.get("density_sources") or {}).keys()) or [str(d.get("source", "unknown"))]
        return {
            "cell": d.get("cell", "primitive"),
            "b_factor": d.get("b_factor"),
            "wavelength": d.get("wavelength"),
            "composition_mode": self.model_config.composition_mode,
            "density_source": "+".join(sources),
        }

    # ------------------------------------------------------------------ main loop
    def _is_better(self, metrics: dict[str, float]) -> bool:
        key = f"val_{self.config.select_metric}"
        value = metrics.get(key)
        if value is None or not math.isfinite(value):
            return False
        return self.best is None or value > self.best["value"]

    def fit(self, stop_epoch: int | None = None) -> dict[str, Any]:
        """Train until ``config.epochs``; returns a summary (best score, folders, history).

        Parameters
        ----------
        stop_epoch
            Stop (with a checkpoint) after this many completed epochs instead, as if the run
            were interrupted there; the schedule still follows ``config.epochs``, and a later
            ``resume`` continues exactly.
        """
        cfg = self.config
        end = cfg.epochs if stop_epoch is None else min(stop_epoch, cfg.epochs)
        if self.start_epoch >= end:
            logger.info("Nothing to do: %d of %d epochs already done.", self.start_epoch, end)
        for epoch in range(self.start_epoch, end):
            t0 = time.perf_counter()
            row: dict[str, Any] = {"epoch": epoch + 1}
            train = self._train_epoch(epoch)
            elapsed = time.perf_counter() - t0
            last = epoch + 1 == cfg.epochs
            val = None
            if (epoch + 1) % cfg.val_every == 0 or last:
                val = self.validate()
            row.update(
                step=self.global_step,
                lr=train["lr"],
                train_loss=train["train_loss"],
                train_l1=train["train_l1"],
                train_kl_xrd=train["train_kl_xrd"],
                train_kl_composition=train["train_kl_composition"],
                epoch_time_s=elapsed,
                crystals_per_s=train["crystals"] / elapsed,
                points_per_s=train["points"] / elapsed,
            )
            row.update(val or {})
            is_best = self._is_better(row) or (self.val_dataset is None and last)
            row["is_best"] = is_best
            if is_best:
                key = f"val_{cfg.select_metric}"
                self.best = {"epoch": epoch + 1, "metric": key, "value": row.get(key)}
            self.history.append(row)
            scores = (
                ""
                if val is None
                else (f"  val ssim {row['val_ssim']:.4f} cc {row['val_cc']:.4f} nmae {row['val_nmae']:.4f}")
            )
            logger.info(
                "epoch %d/%d loss %.4f (l1 %.4f) lr %.2e%s",
                epoch + 1,
                cfg.epochs,
                row["train_loss"],
                row["train_l1"],
                row["lr"],
                scores,
            )
            if self.env.is_main:
                if is_best:
                    publish_best(
                        self.out_dir,
                        self.model,
                        {
                            **self._weights_metadata(),
                            "epoch": epoch + 1,
                            "selected_on": f"val_{cfg.select_metric}",
                            "validation": val,
                            "training_config": cfg.as_dict(),
                            "data": self.data_description,
                        },
                    )
                if (epoch + 1) % cfg.checkpoint_every == 0 or epoch + 1 == end:
                    save_checkpoint(
                        self.out_dir,
                        epoch + 1,
                        self.model,
                        self.optimizer,
                        {
                            "global_step": self.global_step,
                            "history": self.history,
                            "best": self.best,
                            "training_config": cfg.as_dict(),
                            "data": self.data_description,
                        },
                        keep=cfg.keep_checkpoints,
                    )
                self._write_metrics()
            if self.env.distributed:
                dist.barrier()
        return {
            "best": self.best,
            "best_dir": str(self.out_dir / "best"),
            "last_checkpoint": str(latest_checkpoint(self.out_dir) or ""),
            "history": self.history,
        }


def _json_line(row: dict[str, Any]) -> str:
    return json.dumps(row) + "\n"


def train(
    model_config: CrystalNetConfig,
    config: TrainingConfig,
    train_dataset: Dataset,
    val_dataset: Dataset | None,
    out_dir: str | Path,
    **kwargs: Any,
) -> dict[str, Any]:
    """Build a :class:`Trainer` and run it; keyword arguments go to the trainer."""
    return Trainer(model_config, config, train_dataset, val_dataset, out_dir, **kwargs).fit()
