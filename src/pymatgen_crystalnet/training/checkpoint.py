"""Resumable training checkpoints, written so that a kill at any moment leaves a usable state.

Layout of a run folder::

    out/checkpoints/epoch-000012/   one immutable snapshot per saved epoch
        model.safetensors, config.json    the weights folder (see model/weights.py)
        optimizer.pt                      optimizer state + RNG states (torch, CUDA, numpy's
                                          and Python's global generators): tensors and plain
                                          containers only, read with ``weights_only=True``
        trainer_state.json                epoch, step, history, best score, configs,
                                          SHA-256 of optimizer.pt
    out/checkpoints/latest          text file naming the newest complete snapshot
    out/best/                       weights folder of the best validation score

A snapshot is assembled in a hidden temporary folder and renamed into place (atomic on POSIX
file systems), then ``latest`` is replaced atomically; older snapshots are pruned last. The
``best`` folder is swapped in by two renames; :func:`recover_run_folder` repairs a swap
interrupted between them and removes abandoned temporary folders.
"""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pymatgen_crystalnet.atomic import atomic_write_bytes, atomic_write_json
from pymatgen_crystalnet.hashing import sha256_file
from pymatgen_crystalnet.model.crystalnet import CrystalNet
from pymatgen_crystalnet.model.weights import WeightsError, load_model, save_model

__all__ = [
    "CHECKPOINT_FORMAT",
    "CheckpointError",
    "check_same_data",
    "latest_checkpoint",
    "load_checkpoint",
    "publish_best",
    "recover_run_folder",
    "save_checkpoint",
]

logger = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "pymatgen-crystalnet-checkpoint"
STATE_FILE = "trainer_state.json"
OPTIMIZER_FILE = "optimizer.pt"
LATEST_FILE = "latest"
BEST_DIR = "best"


class CheckpointError(WeightsError):
    """A training checkpoint is missing, incomplete, tampered with or does not fit the run."""


def _numpy_state() -> dict[str, Any]:
    """The state of numpy's global (legacy) generator as tensors and numbers (``weights_only``-safe)."""
    name, keys, pos, has_gauss, cached = np.random.get_state()  # noqa: NPY002 (the global one)
    return {"name": str(name), "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)), "pos": int(pos),
            "has_gauss": int(has_gauss), "cached_gaussian": float(cached)}


def _set_numpy_state(state: dict[str, Any]) -> None:
    keys = state["keys"].numpy().astype(np.uint32)
    saved = (state["name"], keys, state["pos"], state["has_gauss"], state["cached_gaussian"])
    np.random.set_state(saved)  # noqa: NPY002 (the global one)


def _python_state() -> dict[str, Any]:
    version, internal, gauss = random.getstate()
    return {"version": int(version), "internal": torch.tensor(internal, dtype=torch.int64),
            "gauss": None if gauss is None else float(gauss)}


def _set_python_state(state: dict[str, Any]) -> None:
    internal = tuple(int(v) for v in state["internal"].tolist())
    random.setstate((state["version"], internal, state["gauss"]))


def _snapshot_name(epoch: int) -> str:
    return f"epoch-{epoch:06d}"


def recover_run_folder(out_dir: str | Path) -> None:
    """Tidy a run folder after a kill: drop temporary folders, finish an interrupted swap."""
    out_dir = Path(out_dir)
    ckpts = out_dir / "checkpoints"
    for parent in (out_dir, ckpts):
        if parent.is_dir():
            for tmp in parent.glob(".tmp-*"):
                shutil.rmtree(tmp, ignore_errors=True)
    best, old = out_dir / BEST_DIR, out_dir / f".{BEST_DIR}.old"
    if old.is_dir():
        if best.is_dir():
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(old, best)
            logger.warning("Restored %s from an interrupted update.", best)


def save_checkpoint(
    out_dir: str | Path,
    epoch: int,
    model: CrystalNet,
    optimizer: torch.optim.Optimizer,
    state: dict[str, Any],
    keep: int = 2,
) -> Path:
    """Write the snapshot of a completed epoch and point ``latest`` at it.

    Parameters
    ----------
    out_dir
        Run folder.
    epoch
        Number of completed epochs.
    model
        The bare model (not the DDP wrapper).
    optimizer
        Its optimizer.
    state
        JSON-serialisable trainer state (epoch, history, configs, …).
    keep
        Snapshots to keep; older ones are deleted after ``latest`` moves.

    Returns
    -------
    Path
        The snapshot folder.
    """
    ckpts = Path(out_dir) / "checkpoints"
    ckpts.mkdir(parents=True, exist_ok=True)
    final = ckpts / _snapshot_name(epoch)
    tmp = Path(tempfile.mkdtemp(dir=ckpts, prefix=".tmp-"))
    try:
        save_model(model, tmp, metadata={"epoch": epoch, "kind": "checkpoint"})
        payload = {
            "optimizer": optimizer.state_dict(),
            "rng_torch": torch.get_rng_state(),
            "rng_cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "rng_numpy": _numpy_state(),
            "rng_python": _python_state(),
        }
        torch.save(payload, tmp / OPTIMIZER_FILE)
        doc = {
            "format": CHECKPOINT_FORMAT,
            "epoch": epoch,
            **state,
            "optimizer_sha256": sha256_file(tmp / OPTIMIZER_FILE),
        }
        atomic_write_json(tmp / STATE_FILE, doc)
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    atomic_write_bytes(ckpts / LATEST_FILE, (final.name + "\n").encode())
    snapshots = sorted(p for p in ckpts.glob("epoch-*") if p.is_dir())
    for old in snapshots:
        if old.name < final.name and old not in snapshots[-keep:]:
            shutil.rmtree(old, ignore_errors=True)
    logger.info("Checkpoint written: %s", final)
    return final


def latest_checkpoint(out_dir: str | Path) -> Path | None:
    """The snapshot ``latest`` points to, or None when the run folder has none."""
    ckpts = Path(out_dir) / "checkpoints"
    pointer = ckpts / LATEST_FILE
    if not pointer.is_file():
        return None
    path = ckpts / pointer.read_text().strip()
    if not (path / STATE_FILE).is_file():
        raise CheckpointError(f"{pointer} names {path.name}, which is missing or incomplete.")
    return path


def check_same_data(out_dir: str | Path, description: dict[str, Any] | None) -> None:
    """Refuse to resume the run in ``out_dir`` on another dataset than the one it started on.

    The run's ``training.json`` records the SHA-256 of its export; a resumed run on other data
    would not be the run its history and checkpoints describe. Runs on data without a recorded
    digest (synthetic crystals) are not checked.

    Raises
    ------
    CheckpointError
        If both digests are known and differ (both are named).
    """
    record = Path(out_dir) / "training.json"
    if not record.is_file():
        return
    before = (json.loads(record.read_text()).get("data") or {}).get("sha256")
    now = (description or {}).get("sha256")
    if before and now and before != now:
        raise CheckpointError(
            f"{out_dir} holds a run on an export with SHA-256 {before[:12]}… (its training.json), "
            f"but {(description or {}).get('path')} has {now[:12]}…; resume with the same export, "
            "or start a new run folder."
        )


def load_checkpoint(
    path: str | Path,
    model: CrystalNet,
    optimizer: torch.optim.Optimizer,
) -> dict[str, Any]:
    """Restore model weights, optimizer and RNG state from a snapshot; return its trainer state.

    Raises
    ------
    CheckpointError
        If the snapshot is incomplete or tampered with (SHA-256 of the weights or of
        ``optimizer.pt`` differs from the recorded one), or was written for another model
        configuration.
    """
    path = Path(path)
    try:
        doc = json.loads((path / STATE_FILE).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"Cannot read {path / STATE_FILE}: {exc}") from None
    if doc.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is not a CrystalNet training checkpoint.")
    try:
        saved = load_model(path, device="cpu")
    except WeightsError as exc:
        raise CheckpointError(f"Checkpoint {path}: {exc}") from None
    if saved.config != model.config:
        raise CheckpointError(
            f"Checkpoint {path} was written for another model configuration; resume with the "
            "same model settings (or start a new run folder)."
        )
    opt_file = path / OPTIMIZER_FILE
    if not opt_file.is_file() or sha256_file(opt_file) != doc.get("optimizer_sha256"):
        raise CheckpointError(
            f"{opt_file} is missing or does not match the SHA-256 recorded in "
            f"{path / STATE_FILE}; the checkpoint was modified or is incomplete."
        )
    payload = torch.load(opt_file, map_location="cpu", weights_only=True)
    model.load_state_dict(saved.state_dict())
    optimizer.load_state_dict(payload["optimizer"])
    torch.set_rng_state(payload["rng_torch"])
    if payload.get("rng_cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(payload["rng_cuda"])
    if payload.get("rng_numpy"):
        _set_numpy_state(payload["rng_numpy"])
    if payload.get("rng_python"):
        _set_python_state(payload["rng_python"])
    return doc


def publish_best(out_dir: str | Path, model: CrystalNet, metadata: dict[str, Any]) -> Path:
    """Replace ``out/best`` with the current weights (assembled aside, swapped by renames)."""
    out_dir = Path(out_dir)
    best, old = out_dir / BEST_DIR, out_dir / f".{BEST_DIR}.old"
    tmp = Path(tempfile.mkdtemp(dir=out_dir, prefix=".tmp-best-"))
    try:
        save_model(model, tmp, metadata=metadata)
        if best.exists():
            if old.exists():
                shutil.rmtree(old)
            os.replace(best, old)
        os.replace(tmp, best)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)
    return best
