"""The per-epoch history of a training run: its rows, log line and files.

Each epoch adds one row (a dict) to the history; the run folder keeps it twice, as
``metrics.jsonl`` (one JSON object per line) and ``metrics.csv`` (the columns of
:data:`CSV_FIELDS`, empty where a value is missing), both rewritten atomically after every
epoch. The mean KL of every latent dimension at each validation goes to ``latent_kl.jsonl``
(one line per validated epoch), kept apart because it has ``latent_dim`` values per encoder.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from pathlib import Path
from typing import Any

from pymatgen_crystalnet.atomic import atomic_write_bytes

__all__ = [
    "CSV_FIELDS",
    "LATENT_FILE",
    "epoch_row",
    "log_epoch",
    "read_latent_kl",
    "write_latent_kl",
    "write_metrics",
]

#: per-dimension KL file of a run folder
LATENT_FILE = "latent_kl.jsonl"

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
    "val_control_cc",
    "val_control_nmae",
    "val_cc_drop",
    "val_electrons",
    "val_electrons_within_10",
    "val_electrons_truth",
    "val_xrd_kl",
    "val_xrd_sigma",
    "val_xrd_mu_spread",
    "val_xrd_active",
    "val_composition_kl",
    "val_composition_sigma",
    "val_composition_mu_spread",
    "val_composition_active",
    "beta",
    "is_best",
    "epoch_time_s",
    "data_time_s",
    "val_time_s",
    "wall_time_s",
    "crystals_per_s",
    "points_per_s",
    "stopped",
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
        Validation scores, or None when the epoch was not validated (a ``kl_per_dim`` entry
        is left out: it goes to :data:`LATENT_FILE`).
    """
    row: dict[str, Any] = {"epoch": epoch}
    row.update(
        step=step,
        lr=train["lr"],
        train_loss=train["train_loss"],
        train_l1=train["train_l1"],
        train_kl_xrd=train["train_kl_xrd"],
        train_kl_composition=train["train_kl_composition"],
        beta=train.get("beta"),
        epoch_time_s=elapsed,
        data_time_s=train.get("data_s"),
        crystals_per_s=train["crystals"] / elapsed,
        points_per_s=train["points"] / elapsed,
    )
    row.update({k: v for k, v in (val or {}).items() if k != "kl_per_dim"})
    return row


def _instruments(row: dict[str, Any]) -> str:
    parts = []
    if "val_control_cc" in row:
        parts.append(f"control cc {row['val_control_cc']:.4f} drop {row['val_cc_drop']:+.4f}")
    if "val_electrons" in row:
        parts.append(
            f"e- held {row['val_electrons']:.2f} (±10 %: {row['val_electrons_within_10']:.2f}, "
            f"truth {row['val_electrons_truth']:.2f})"
        )
    for enc, short in (("xrd", "x"), ("composition", "c")):
        if row.get(f"val_{enc}_sigma") is not None:
            parts.append(
                f"σ{short} {row[f'val_{enc}_sigma']:.2f} sd(μ{short}) {row[f'val_{enc}_mu_spread']:.2f} "
                f"KL{short} {row[f'val_{enc}_kl']:.3f} active {row[f'val_{enc}_active']}"
            )
    return ("  " + "; ".join(parts)) if parts else ""


def log_epoch(row: dict[str, Any], epochs: int, validated: bool) -> None:
    """Log one line for a finished epoch (with the validation scores when it was validated).

    The line holds the loss, the learning rate, the throughput, and when validated the
    scores and the instruments: control CC and CC drop, electrons held, and per encoder the
    mean σ, the spread of μ across crystals, the mean KL per dimension and the active
    dimensions.
    """
    scores = (
        f"  val ssim {row['val_ssim']:.4f} cc {row['val_cc']:.4f} nmae {row['val_nmae']:.4f}"
        + _instruments(row)
        if validated
        else ""
    )
    logger.info(
        "epoch %d/%d loss %.4f (l1 %.4f) lr %.2e %.0f crystals/s%s",
        row["epoch"],
        epochs,
        row["train_loss"],
        row["train_l1"],
        row["lr"],
        row.get("crystals_per_s", float("nan")),
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


def write_latent_kl(out_dir: Path, rows: list[dict[str, Any]]) -> None:
    """Rewrite :data:`LATENT_FILE` in ``out_dir``: one ``{"epoch", "xrd", "composition"}`` line per row."""
    lines = "".join(json.dumps(row) + "\n" for row in rows)
    atomic_write_bytes(out_dir / LATENT_FILE, lines.encode())


def read_latent_kl(out_dir: Path, up_to_epoch: int) -> list[dict[str, Any]]:
    """The rows of :data:`LATENT_FILE` of epochs ≤ ``up_to_epoch`` (none when the file is absent)."""
    path = out_dir / LATENT_FILE
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(row, dict) and int(row.get("epoch", 0)) <= up_to_epoch:
            rows.append(row)
    return rows
