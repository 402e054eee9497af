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
reproducibly (or builds whole batches: ``epoch.py``). The validation set must be a validation
split: never select on a test split.

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

The step loop of one epoch is ``epoch.py``, validation ``validation.py``, the history rows and
metrics files ``history.py``; this module holds the run that ties them together.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from pymatgen_crystalnet.atomic import atomic_write_json
from pymatgen_crystalnet.model.config import CrystalNetConfig
from pymatgen_crystalnet.model.crystalnet import CrystalNet
from pymatgen_crystalnet.model.layers import set_batchnorm_sync
from pymatgen_crystalnet.training import history as run_history
from pymatgen_crystalnet.training.budget import WallBudget
from pymatgen_crystalnet.training.checkpoint import (
    CheckpointError,
    check_same_data,
    latest_checkpoint,
    load_checkpoint,
    publish_best,
    recover_run_folder,
    save_checkpoint,
)
from pymatgen_crystalnet.training.config import TrainingConfig
from pymatgen_crystalnet.training.distributed import DistEnv, init_distributed
from pymatgen_crystalnet.training.epoch import train_epoch
from pymatgen_crystalnet.training.schedule import scale_cycles
from pymatgen_crystalnet.training.validation import validate_model

__all__ = ["Trainer", "train"]

logger = logging.getLogger(__name__)

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
        self.latent_kl: list[dict[str, Any]] = []
        self.best: dict[str, Any] | None = None
        self.wall_time_s = 0.0  # over all invocations of the run
        self.clock = time.monotonic  # replaceable in tests
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
            check_same_data(self.out_dir, self.data_description)
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
            self.wall_time_s = float(state.get("wall_time_s", 0.0))
            self.latent_kl = run_history.read_latent_kl(self.out_dir, self.start_epoch)
            logger.info("Resumed from %s (epoch %d).", ckpt, self.start_epoch)
        elif self.env.is_main:
            atomic_write_json(self.out_dir / "training.json", self._run_record())

    # ------------------------------------------------------------------ validation
    def validate(self) -> dict[str, float] | None:
        """Scores on the validation split: 2 samples × 24 rotations, best per crystal, mean.

        Each process scores a strided share of the crystals; the sums are all-reduced.
        Returns None without a validation set.
        """
        if self.val_dataset is None:
            return None
        return validate_model(self.model, self.val_dataset, self.config, self.env, self.autocast_dtype)

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

    def _must_stop(self, budget: WallBudget, epoch: int) -> bool:
        stop = budget.must_stop_after(epoch)
        if self.env.distributed:  # every process takes the decision of rank 0
            flag = torch.tensor([1.0 if stop else 0.0], device=self.device)
            dist.broadcast(flag, 0)
            stop = bool(flag.item())
        return stop

    def fit(self, stop_epoch: int | None = None) -> dict[str, Any]:
        """Train until ``config.epochs``; returns a summary (best score, folders, history).

        Parameters
        ----------
        stop_epoch
            Stop (with a checkpoint) after this many completed epochs instead, as if the run
            were interrupted there; the schedule still follows ``config.epochs``, and a later
            ``resume`` continues exactly.

        With ``config.max_minutes`` the run also stops when the next epoch would not end
        within the budget (estimated from this invocation's epochs); the last epoch run is
        then validated and checkpointed, and the summary's ``stopped`` is ``"budget"``.
        """
        cfg = self.config
        end = cfg.epochs if stop_epoch is None else min(stop_epoch, cfg.epochs)
        if self.start_epoch >= end:
            logger.info("Nothing to do: %d of %d epochs already done.", self.start_epoch, end)
        budget = WallBudget(cfg.max_minutes, cfg.val_every, self.clock)
        stopped: str | None = None
        for epoch in range(self.start_epoch, end):
            t0 = self.clock()
            train = train_epoch(
                epoch,
                model=self.model,
                train_model=self.train_model,
                optimizer=self.optimizer,
                loader=self.loader,
                sampler=self.sampler,
                dataset=self.train_dataset,
                model_config=self.model_config,
                config=cfg,
                cycles=self.cycles,
                env=self.env,
                autocast_dtype=self.autocast_dtype,
                progress=self.progress,
            )
            self.global_step += int(train["steps"])
            elapsed = self.clock() - t0
            budget.train_times.append(elapsed)
            last = epoch + 1 == cfg.epochs
            if epoch + 1 < end and self._must_stop(budget, epoch):
                stopped = "budget"
            val = None
            if (epoch + 1) % cfg.val_every == 0 or last or stopped:
                t_val = self.clock()
                val = self.validate()
                budget.val_times.append(self.clock() - t_val)
            row = run_history.epoch_row(epoch + 1, self.global_step, train, elapsed, val)
            if val is not None:
                row["val_time_s"] = budget.val_times[-1]
                if "kl_per_dim" in val:
                    self.latent_kl.append({"epoch": epoch + 1, **val["kl_per_dim"]})
            if stopped:
                row["stopped"] = stopped
            is_best = self._is_better(row) or (self.val_dataset is None and (last or bool(stopped)))
            row["is_best"] = is_best
            if is_best:
                key = f"val_{cfg.select_metric}"
                self.best = {"epoch": epoch + 1, "metric": key, "value": row.get(key)}
            self.history.append(row)
            run_history.log_epoch(row, cfg.epochs, validated=val is not None)
            if self.env.is_main:
                if is_best:
                    publish_best(
                        self.out_dir,
                        self.model,
                        {
                            **self._weights_metadata(),
                            "epoch": epoch + 1,
                            "selected_on": f"val_{cfg.select_metric}",
                            "validation": {k: v for k, v in (val or {}).items() if k != "kl_per_dim"},
                            "training_config": cfg.as_dict(),
                            "data": self.data_description,
                        },
                    )
            self.wall_time_s += self.clock() - t0
            row["wall_time_s"] = self.wall_time_s  # epochs, validations and best/ of all invocations
            if self.env.is_main:
                if (epoch + 1) % cfg.checkpoint_every == 0 or epoch + 1 == end or stopped:
                    save_checkpoint(
                        self.out_dir,
                        epoch + 1,
                        self.model,
                        self.optimizer,
                        {
                            "global_step": self.global_step,
                            "history": self.history,
                            "best": self.best,
                            "wall_time_s": self.wall_time_s,
                            "training_config": cfg.as_dict(),
                            "data": self.data_description,
                        },
                        keep=cfg.keep_checkpoints,
                    )
                run_history.write_metrics(self.out_dir, self.history)
                run_history.write_latent_kl(self.out_dir, self.latent_kl)
            if self.env.distributed:
                dist.barrier()
            if stopped:
                logger.info(
                    "Stopped after epoch %d of %d: the next one would not end within max_minutes=%g "
                    "(continue with --resume).",
                    epoch + 1,
                    cfg.epochs,
                    cfg.max_minutes,
                )
                break
        return {
            "best": self.best,
            "best_dir": str(self.out_dir / "best"),
            "last_checkpoint": str(latest_checkpoint(self.out_dir) or ""),
            "history": self.history,
            "stopped": stopped,
            "wall_time_s": self.wall_time_s,
        }


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
