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

import logging
from pathlib import Path

import click

from pymatgen_crystalnet.cli.settings import apply_set, set_option
from pymatgen_crystalnet.model.config import PRESETS

__all__ = ["train"]

logger = logging.getLogger(__name__)


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
    type=click.Choice(sorted(PRESETS)),
    default=None,
    help="Model and training preset [default: small; on --resume the run's own settings].",
)
@click.option("--epochs", type=click.IntRange(1), default=None, help="Override the number of epochs.")
@click.option("--device", default="auto", show_default=True, help="auto (CUDA if present), cpu, cuda:N.")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its newest checkpoint.")
@set_option("the model (model.KEY) or the training (training.KEY)")
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
    settings: tuple[str, ...],
    threads: int | None,
    progress: bool,
) -> None:
    """Train CrystalNet (L1 + β·KL, SGDR, augmentation, validation SSIM/CC, checkpoints)."""
    from pymatgen_crystalnet.training.entry import run_training, training_configs

    try:
        model_cfg, train_cfg = training_configs(
            out, preset=preset, config_file=config_file, epochs=epochs, resume=resume
        )
    except (ValueError, TypeError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    configs = apply_set({"model": model_cfg, "training": train_cfg}, settings)
    try:
        outcome = run_training(
            data,
            out,
            configs["model"],
            configs["training"],
            device=device,
            resume=resume,
            progress=progress,
            threads=threads,
        )
    except (ValueError, TypeError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    for line in outcome.lines():
        click.echo(line)
