"""The training entry: settings from preset, file and ``key=value`` items, then one run.

``crystalnet train`` and the ``torchrun`` entry of the training Maker
(``python -m pymatgen_crystalnet.workflows.train_entry train --data … --out …``) both go
through here: :func:`training_configs` resolves the settings, :func:`run_training` opens the
data, starts the process group, trains and returns a :class:`TrainingOutcome`, and
:func:`main` is the small argument parser used under ``torchrun`` (no click, so this layer
imports nothing from the command line).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pymatgen_crystalnet.configs import apply_section_settings, apply_values
from pymatgen_crystalnet.model.config import CrystalNetConfig
from pymatgen_crystalnet.training.config import TrainingConfig

__all__ = ["TrainingOutcome", "main", "read_config_file", "run_training", "training_configs"]

logger = logging.getLogger(__name__)

_SECTIONS = {"model": ("model", "model_config"), "training": ("training", "training_config")}


def read_config_file(path: str | Path) -> dict[str, dict[str, Any]]:
    """The ``model`` and ``training`` mappings of a JSON/YAML settings file.

    A run's own ``training.json`` is accepted too (its ``model_config`` and
    ``training_config``; its other entries are ignored).

    Raises
    ------
    ValueError
        If the file is not a mapping or has other top-level keys.
    """
    path = Path(path)
    text = path.read_text()
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml

        doc = yaml.safe_load(text)
    else:
        doc = json.loads(text)
    if not isinstance(doc, dict):
        raise ValueError(f"{path} must hold a mapping with 'model' and/or 'training'.")
    unknown = set(doc) - {name for names in _SECTIONS.values() for name in names}
    if unknown and path.name != "training.json":
        raise ValueError(f"{path}: unknown top-level key(s) {sorted(unknown)}; use 'model' and 'training'.")
    out = {}
    for section, (name, alias) in _SECTIONS.items():
        values = doc.get(name, doc.get(alias, {})) or {}
        out[section] = {k: v for k, v in values.items() if not k.startswith("@")}
    return out


def training_configs(
    out: str | Path,
    *,
    preset: str | None = None,
    config_file: str | Path | None = None,
    epochs: int | None = None,
    resume: bool = False,
) -> tuple[CrystalNetConfig, TrainingConfig]:
    """The model and training settings of a run, before any ``key=value`` settings.

    The preset (``small`` by default) comes first, then the file, then ``epochs``. On
    ``resume`` without a preset or file, the run's own ``training.json`` is the file.

    Raises
    ------
    ValueError
        If ``out`` already holds a run and ``resume`` is not set, or a setting is invalid.
    """
    out = Path(out)
    if not resume and (out / "checkpoints" / "latest").is_file():
        raise ValueError(
            f"{out} already holds a training run; pass --resume to continue it, or choose another --out."
        )
    previous = out / "training.json"
    if config_file is None and resume and preset is None and previous.is_file():
        config_file = previous
    name = preset or "small"
    model_cfg = CrystalNetConfig.from_preset(name)
    train_cfg = TrainingConfig.from_preset(name)
    if config_file is not None:
        doc = read_config_file(config_file)
        model_cfg = apply_values(model_cfg, doc["model"])
        train_cfg = apply_values(train_cfg, doc["training"])
    if epochs is not None:
        train_cfg = replace(train_cfg, epochs=epochs)
    return model_cfg, train_cfg


@dataclass
class TrainingOutcome:
    """What a run returns: its summary (see ``Trainer.fit``), settings and size."""

    summary: dict[str, Any]
    model_config: CrystalNetConfig
    n_parameters: int
    is_main: bool
    out: Path

    def lines(self) -> list[str]:
        """The human-readable report of the run (empty on processes other than rank 0)."""
        if not self.is_main:
            return []
        best = self.summary["best"] or {}
        history = self.summary["history"]
        last = history[-1] if history else {}
        lines = [
            f"Trained {len(history)} epochs ({self.model_config.preset or 'custom'} model, "
            f"{self.n_parameters:,} parameters); last train loss {last.get('train_loss', float('nan')):.4f}."
        ]
        if best:
            metric, value, epoch = best.get("metric"), best.get("value"), best.get("epoch")
            lines.append(f"Best {metric} = {value} at epoch {epoch}: {self.out / 'best'}")
        if self.summary.get("stopped") == "budget":
            lines.append(
                f"Stopped by the time budget (max_minutes) after epoch {last.get('epoch')}; "
                f"{self.summary.get('wall_time_s', 0.0) / 60:.1f} min of training in the run so far. "
                "Continue with --resume (optionally --set max_minutes=M)."
            )
        return lines


def run_training(
    data: str,
    out: str | Path,
    model_config: CrystalNetConfig,
    training_config: TrainingConfig,
    *,
    device: str = "auto",
    resume: bool = False,
    progress: bool = True,
    threads: int | None = None,
) -> TrainingOutcome:
    """Open the data, start the process group (under ``torchrun``), train, and shut down.

    Parameters
    ----------
    data
        Dataset export (``.npz``) or ``synthetic[:N]``.
    out
        Run folder.
    model_config, training_config
        The settings (see :func:`training_configs`).
    device
        ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"``, …
    resume
        Continue the run in ``out``.
    progress
        Progress bar on rank 0.
    threads
        CPU threads for torch.

    Raises
    ------
    ValueError
        For unusable data, an absent device, or a run folder that does not fit.
    """
    import torch

    from pymatgen_crystalnet.training.data import open_datasets
    from pymatgen_crystalnet.training.distributed import init_distributed, shutdown_distributed
    from pymatgen_crystalnet.training.trainer import Trainer

    if threads:
        torch.set_num_threads(threads)
    env = init_distributed(device)  # an absent device fails here, before the data are read
    try:
        train_data, val_data, description = open_datasets(data, model_config, training_config)
        trainer = Trainer(
            model_config,
            training_config,
            train_data,
            val_data,
            out,
            resume=resume,
            progress=progress,
            data_description=description,
            env=env,
        )
        summary = trainer.fit()
    finally:
        shutdown_distributed()
    return TrainingOutcome(summary, model_config, trainer.model.num_parameters(), env.is_main, Path(out))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pymatgen_crystalnet.workflows.train_entry", description="Train CrystalNet (torchrun entry)."
    )
    parser.add_argument("command", nargs="?", choices=["train"], help="'train' (accepted for compatibility).")
    parser.add_argument("--data", required=True)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--config", dest="config_file", type=Path, default=None)
    parser.add_argument("--preset", choices=sorted(CrystalNetConfig.presets), default=None)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--progress", dest="progress", action="store_true", default=True)
    parser.add_argument("--no-progress", dest="progress", action="store_false")
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    """Run one training from command-line arguments (the flags of ``crystalnet train``).

    Exits with status 1 and a one-line message (no traceback) on bad settings, data or device.
    """
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        model_cfg, train_cfg = training_configs(
            args.out, preset=args.preset, config_file=args.config_file, epochs=args.epochs, resume=args.resume
        )
        configs = apply_section_settings({"model": model_cfg, "training": train_cfg}, args.settings)
        outcome = run_training(
            args.data,
            args.out,
            configs["model"],
            configs["training"],
            device=args.device,
            resume=args.resume,
            progress=args.progress,
            threads=args.threads,
        )
    except (ValueError, TypeError, OSError) as exc:
        sys.exit(f"Error: {exc}")
    for line in outcome.lines():
        sys.stdout.write(line + "\n")
