r"""``crystalnet train``: train a CrystalNet on an exported dataset.

::

    crystalnet train --data exports/ct.npz --out runs/small --preset small
    crystalnet train --data exports/ct.npz --out runs/small --resume          # after a kill
    crystalnet train --data synthetic:64 --out /tmp/smoke --epochs 2 \
        --set training.batch_size=16 --set model.positional_encoding=periodic
    torchrun --standalone --nproc-per-node 2 $(which crystalnet) train --data … --out …

torch is imported inside the command, so ``crystalnet --help`` stays fast.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import click

__all__ = ["train"]

logger = logging.getLogger(__name__)


def _read_config_file(path: Path) -> dict[str, Any]:
    text = path.read_text()
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml

        doc = yaml.safe_load(text)
    else:
        doc = json.loads(text)
    if not isinstance(doc, dict):
        raise click.BadParameter(f"{path} must hold a mapping with 'model' and/or 'training'.")
    model = doc.get("model", doc.get("model_config", {})) or {}
    training = doc.get("training", doc.get("training_config", {})) or {}
    unknown = set(doc) - {"model", "training", "model_config", "training_config"}
    if unknown and path.name != "training.json":
        raise click.BadParameter(
            f"{path}: unknown top-level key(s) {sorted(unknown)}; use 'model' and 'training'."
        )
    strip = lambda d: {k: v for k, v in d.items() if not k.startswith("@")}  # noqa: E731
    return {"model": strip(model), "training": strip(training)}


def _split_overrides(items: tuple[str, ...], model_fields: set[str], train_fields: set[str]):
    model: dict[str, str] = {}
    training: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise click.BadParameter(f"--set expects KEY=VALUE, got {item!r}.")
        key = key.strip()
        section, dot, name = key.partition(".")
        if dot and section in ("model", "training"):
            (model if section == "model" else training)[name] = value
        elif key in model_fields and key in train_fields:
            raise click.BadParameter(f"{key!r} is ambiguous; write model.{key} or training.{key}.")
        elif key in model_fields:
            model[key] = value
        elif key in train_fields:
            training[key] = value
        else:
            raise click.BadParameter(f"Unknown setting {key!r} in --set.")
    return model, training


@click.command("train")
@click.option(
    "--data", required=True, help="Dataset export (.npz from 'crystalnet data export') or synthetic[:N]."
)
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Run folder.")
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSON/YAML with 'model' and 'training' mappings (over the preset), or a run's training.json.",
)
@click.option(
    "--preset",
    type=click.Choice(["small", "paper"]),
    default=None,
    help="Model and training preset [default: small; on --resume the run's own settings].",
)
@click.option("--epochs", type=click.IntRange(1), default=None, help="Override the number of epochs.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:1, …")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its newest checkpoint.")
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a setting: model.KEY=…, training.KEY=… or an unambiguous field name (repeatable).",
)
@click.option("--threads", type=click.IntRange(1), default=None, help="CPU threads for torch.")
@click.option("--progress/--no-progress", default=True, show_default=True, help="Progress bar.")
def train(
    data: str,
    out: Path,
    config_file: Path | None,
    preset: str | None,
    epochs: int | None,
    device: str,
    resume: bool,
    overrides: tuple[str, ...],
    threads: int | None,
    progress: bool,
) -> None:
    """Train CrystalNet (L1 + β·KL, SGDR, augmentation, validation SSIM/CC, checkpoints)."""
    import dataclasses

    import torch

    from pymatgen_crystalnet.configs import apply_values
    from pymatgen_crystalnet.model.config import CrystalNetConfig
    from pymatgen_crystalnet.model.weights import WeightsError
    from pymatgen_crystalnet.training.config import TrainingConfig
    from pymatgen_crystalnet.training.data import open_datasets
    from pymatgen_crystalnet.training.distributed import init_distributed, shutdown_distributed
    from pymatgen_crystalnet.training.trainer import Trainer

    if threads:
        torch.set_num_threads(threads)
    previous = out / "training.json"
    if not resume and (out / "checkpoints" / "latest").is_file():
        raise click.ClickException(
            f"{out} already holds a training run; pass --resume to continue it, or choose another --out."
        )
    if config_file is None and resume and preset is None and previous.is_file():
        config_file = previous
    name = preset or "small"
    try:
        model_cfg = CrystalNetConfig.from_preset(name)
        train_cfg = TrainingConfig.from_preset(name)
        if config_file is not None:
            doc = _read_config_file(config_file)
            model_cfg = apply_values(model_cfg, doc["model"])
            train_cfg = apply_values(train_cfg, doc["training"])
        if epochs is not None:
            train_cfg = dataclasses.replace(train_cfg, epochs=epochs)
        model_set, train_set = _split_overrides(
            overrides,
            {f.name for f in dataclasses.fields(CrystalNetConfig)},
            {f.name for f in dataclasses.fields(TrainingConfig)},
        )
        model_cfg = apply_values(model_cfg, model_set)
        train_cfg = apply_values(train_cfg, train_set)
        train_data, val_data, description = open_datasets(data, model_cfg, train_cfg)
    except (ValueError, TypeError, OSError, json.JSONDecodeError) as exc:
        raise click.ClickException(str(exc)) from None

    env = init_distributed(device)
    try:
        trainer = Trainer(
            model_cfg,
            train_cfg,
            train_data,
            val_data,
            out,
            resume=resume,
            progress=progress,
            data_description=description,
            env=env,
        )
        summary = trainer.fit()
    except (ValueError, WeightsError) as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        shutdown_distributed()
    if env.is_main:
        best = summary["best"] or {}
        last = summary["history"][-1] if summary["history"] else {}
        click.echo(
            f"Trained {len(summary['history'])} epochs "
            f"({model_cfg.preset or 'custom'} model, {trainer.model.num_parameters():,} parameters); "
            f"last train loss {last.get('train_loss', float('nan')):.4f}."
        )
        if best:
            metric, value, epoch = best.get("metric"), best.get("value"), best.get("epoch")
            click.echo(f"Best {metric} = {value} at epoch {epoch}: {out / 'best'}")
