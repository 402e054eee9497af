"""Training hyperparameters: a dataclass with the same ``paper`` / ``small`` presets as the model.

Importing this module does not import torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from pymatgen_crystalnet.configs import PresetConfig

__all__ = ["TRAINING_PRESETS", "AmpMode", "SelectMetric", "TrainingConfig"]

SelectMetric = Literal["ssim", "cc"]
AmpMode = Literal["auto", "bf16", "off"]


#: Named presets: keyword arguments of :class:`TrainingConfig`.
TRAINING_PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    "small": {
        "epochs": 60,
        "batch_size": 32,
        "n_strata": 8,
        "val_every": 2,
        "val_grid": 24,
        "val_max_crystals": 64,
    },
}
# the model presets that read the cell (model/config.py) train as ``small`` does
TRAINING_PRESETS["small-lattice"] = dict(TRAINING_PRESETS["small"])
TRAINING_PRESETS["small-reflections"] = dict(TRAINING_PRESETS["small"])


@dataclass
class TrainingConfig(PresetConfig):
    """How to train a CrystalNet (docs/science.md, "Training").

    Parameters
    ----------
    epochs
        Passes over the training set.
    batch_size
        Crystals per optimizer step, over all processes together (the global batch; each of
        W processes takes ``batch_size / W``).
    lr, lr_min
        Cosine annealing with warm restarts from ``lr`` down to ``lr_min``.
    restart_cycles
        Cycle lengths in epochs (100, 200, 400, 800 in the paper). When they do not sum to
        ``epochs`` they are scaled proportionally to the run length (see
        :func:`~pymatgen_crystalnet.training.schedule.scale_cycles`).
    weight_decay
        Adam's L2 weight decay (0 in the paper).
    grad_clip
        Clip the global gradient norm to this value (0 disables).
    n_strata
        Query points per crystal = ``n_strata³``, one uniform point in each cell of an
        ``n_strata³`` partition of the unit cell (10 → 1000 points in the paper). Used by the
        dataset builder.
    xrd_noise, composition_noise
        Standard deviation of the Gaussian noise added to the XRD and composition inputs,
        followed by ReLU (0.001 in the paper).
    max_shift_bins
        XRD shift augmentation: each pattern moves by a random integer number of bins in
        [−k, k] (3 bins = 0.53° < 0.6° of 2θ).
    val_every
        Validate every this many epochs (and after the last one).
    val_grid
        Grid size n of the validation densities (the paper evaluates at 50).
    val_samples
        Latent samples per validation crystal (2 in the paper).
    val_batch_size
        Validation crystals predicted at once.
    val_max_crystals
        Validate on at most this many crystals of the validation split (0: all).
    select_metric
        Keep the checkpoint with the best validation ``"ssim"`` (the paper's choice) or map
        ``"cc"`` (SSIM alone rewards flat maps: docs/science.md, "Scores that discriminate").
    seed
        Seed of initialisation, data order, augmentation and latent noise.
    amp
        Mixed precision: ``"auto"`` (bf16 autocast on CUDA, off on CPU), ``"bf16"``, ``"off"``.
    compile
        Wrap the model in ``torch.compile`` for training.
    num_workers
        DataLoader worker processes.
    checkpoint_every
        Write a resumable checkpoint every this many epochs (and after the last one).
    keep_checkpoints
        Resumable checkpoints kept on disk (the newest ones).
    predict_batch_points
        Memory bound of grid predictions during validation (rows at once).
    point_grid
        Training densities on exports: each crystal's density is computed once on a
        ``point_grid``³ grid of its cell (cached beside the export) and the density at a query
        point is interpolated from it (trilinear in log(1 + ρ); see
        ``data/bank_batches.py``), with no Python loop per crystal or point. 0 evaluates the
        exact IAM at every point of every item instead (the slow reference path).
    max_minutes
        Wall-time budget of one invocation (minutes; 0: none). An epoch is only started when
        the previous epochs' mean duration says it ends within the budget; the last epoch
        run is validated and checkpointed, so ``--resume`` continues exactly. Not part of
        the run's identity: a resume may change it.
    kl_warmup_epochs
        Ramp the KL weight linearly from 0 to β over this many (fractional) epochs (0: β from
        the first step).
    free_bits
        KL floor per latent dimension (nats): each dimension's KL, averaged over the batch, is
        replaced by max(KL_d, ``free_bits``) before the dimensions are reduced (mean or sum,
        the model's ``kl_reduction``), so a dimension below the floor gets no KL gradient
        (0: off).
    electron_weight
        Weight λ of an electron-count term (0: off, the objective unchanged to the bit): per
        crystal, |log((ρ̄_pred + ε) / (ρ̄_true + ε))| over the batch's query points (ρ̄: the
        mean density in e/Å³ over the crystal's stratified points, which estimates its
        electrons per volume; ε = 10⁻³ e/Å³), averaged over the crystals and added to the loss
        as λ × that. It asks a density to hold the cell's electrons, which L1 on log(1 + ρ)
        leaves to chance in the atomic cores.
    val_control
        Also score each validation crystal from another validation crystal's pattern (a
        fixed pairing within its crystal system) with its own composition: ``val_control_cc``
        and ``val_cc_drop`` = ``val_cc`` − ``val_control_cc``. Doubles the predictions of a
        validation.
    preset
        Name of the preset this config came from, if any (informational).
    """

    epochs: int = 1500
    batch_size: int = 128
    lr: float = 1e-3
    lr_min: float = 1e-6
    restart_cycles: tuple[int, ...] = (100, 200, 400, 800)
    weight_decay: float = 0.0
    grad_clip: float = 0.0
    n_strata: int = 10
    xrd_noise: float = 1e-3
    composition_noise: float = 1e-3
    max_shift_bins: int = 3
    val_every: int = 1
    val_grid: int = 50
    val_samples: int = 2
    val_batch_size: int = 8
    val_max_crystals: int = 0
    select_metric: SelectMetric = "ssim"
    seed: int = 0
    amp: AmpMode = "auto"
    compile: bool = False
    num_workers: int = 0
    checkpoint_every: int = 1
    keep_checkpoints: int = 2
    predict_batch_points: int = 2**17
    point_grid: int = 48
    max_minutes: float = field(default=0.0, compare=False)
    kl_warmup_epochs: float = 0.0
    free_bits: float = 0.0
    electron_weight: float = 0.0
    val_control: bool = True
    preset: str | None = field(default=None, compare=False)

    presets = TRAINING_PRESETS
    preset_kind = "training"

    def __post_init__(self) -> None:
        self.restart_cycles = tuple(int(c) for c in self.restart_cycles)
        if not self.restart_cycles or min(self.restart_cycles) < 1:
            raise ValueError(f"restart_cycles must be positive, got {self.restart_cycles}.")
        for name, kind in (("select_metric", SelectMetric), ("amp", AmpMode)):
            if getattr(self, name) not in get_args(kind):
                raise ValueError(f"{name} must be one of {get_args(kind)}, got {getattr(self, name)!r}.")
        positive = (
            "epochs",
            "batch_size",
            "n_strata",
            "val_every",
            "val_grid",
            "val_samples",
            "val_batch_size",
            "checkpoint_every",
            "keep_checkpoints",
            "predict_batch_points",
        )
        for name in positive:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}.")
        for name in ("max_shift_bins", "val_max_crystals", "num_workers", "point_grid"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}.")
        for name in ("lr", "lr_min", "weight_decay", "grad_clip", "xrd_noise", "composition_noise",
                     "max_minutes", "kl_warmup_epochs", "free_bits", "electron_weight"):
            value = float(getattr(self, name))
            setattr(self, name, value)
            if not 0 <= value < float("inf"):
                raise ValueError(f"{name} must be finite and non-negative, got {value}.")
        if self.lr_min > self.lr:
            raise ValueError(f"lr_min ({self.lr_min}) must not exceed lr ({self.lr}).")
        if self.point_grid == 1:
            raise ValueError("point_grid must be 0 (exact points) or at least 2.")
        if self.val_grid < 7:
            raise ValueError(f"val_grid must be at least 7 (the SSIM window), got {self.val_grid}.")
