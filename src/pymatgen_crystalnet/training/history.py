"""The per-epoch history of a training run: its rows, log line and files.

Each epoch adds one row (a dict) to the history; the run folder keeps it twice, as
``metrics.jsonl`` (one JSON object per line) and ``metrics.csv`` (the columns of
:data:`CSV_FIELDS`, empty where a value is missing), both rewritten atomically after every
epoch.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from pathlib import Path
from typing import Any

from pymatgen_crystalnet.atomic import atomic_write_bytes

__all__ = ["CSV_FIELDS", "epoch_row", "log_epoch", "write_metrics"]

logger = logging.getLogger(__name__)

#: columns of ``metrics.csv``
CSV_FIELDS = (
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


def epoch_row(
    epoch: int,
    step: int,
    train: dict[str, float],
    elapsed: float,
    val: dict[str, float] | None,
) -> dict[str, Any]:
    """The history row of one epoch (without ``is_best``).

    Parameters
    ----------
    epoch
        1-based number of the finished epoch.
    step
        Optimizer steps taken so far in the run.
    train
        What :func:`~pymatgen_crystalnet.training.epoch.train_epoch` returned.
    elapsed
        Wall time of the epoch's training steps (s), for the throughput columns.
    val
        Validation scores, or None when the epoch was not validated.
    """
    row: dict[str, Any] = {"epoch": epoch}
    row.update(
        step=step,
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
    return row


def log_epoch(row: dict[str, Any], epochs: int, validated: bool) -> None:
    """Log one line for a finished epoch (with the validation scores when it was validated)."""
    scores = (
        f"  val ssim {row['val_ssim']:.4f} cc {row['val_cc']:.4f} nmae {row['val_nmae']:.4f}"
        if validated
        else ""
    )
    logger.info(
        "epoch %d/%d loss %.4f (l1 %.4f) lr %.2e%s",
        row["epoch"],
        epochs,
        row["train_loss"],
        row["train_l1"],
        row["lr"],
        scores,
    )


def write_metrics(out_dir: Path, history: list[dict[str, Any]]) -> None:
    """Rewrite ``metrics.jsonl`` and ``metrics.csv`` in ``out_dir`` from the whole history."""
    lines = "".join(json.dumps(row) + "\n" for row in history)
    atomic_write_bytes(out_dir / "metrics.jsonl", lines.encode())
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_FIELDS, extrasaction="ignore")
    writer.writeheader()
    for row in history:
        writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in CSV_FIELDS})
    atomic_write_bytes(out_dir / "metrics.csv", buf.getvalue().encode())
