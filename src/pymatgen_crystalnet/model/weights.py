"""Saving and loading model weights: safetensors plus a JSON config, never pickle.

A weights folder holds two files::

    model.safetensors   every tensor of the state dict (float32, or float16 if asked)
    config.json         {"format": "pymatgen-crystalnet-weights", "format_version": 1,
                         "config": CrystalNetConfig.as_dict(), "sha256": <of model.safetensors>,
                         "dtype": "float32" | "float16", "n_parameters": …, "metadata": {…}}

:func:`load_model` (and :func:`load_model_and_metadata`, which also returns what the weights
record about their training data) refuses, with a :class:`WeightsError` naming the problem, a folder whose
weights file does not match the SHA-256 recorded in its config (tampered or truncated), whose
tensors do not match the architecture the config describes (missing, unexpected or
mis-shaped tensors), or whose files are missing or malformed. It also refuses, before
anything is allocated, a ``config.json`` whose ``config`` is not a mapping, whose
``format_version`` is not a supported integer, whose ``weights_file`` points outside the
folder, or whose architecture would need more memory than the machine has
(:func:`parameter_bytes`, counted on PyTorch's ``meta`` device). Both files are written
atomically (temporary file, then ``os.replace``).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from pymatgen_crystalnet.atomic import atomic_path, atomic_write_json
from pymatgen_crystalnet.devices import available_memory
from pymatgen_crystalnet.hashing import sha256_file
from pymatgen_crystalnet.model.config import CrystalNetConfig
from pymatgen_crystalnet.model.crystalnet import CrystalNet

__all__ = [
    "CONFIG_FILE",
    "FORMAT",
    "WEIGHTS_FILE",
    "WeightsError",
    "load_model",
    "load_model_and_metadata",
    "parameter_bytes",
    "read_weights_config",
    "save_model",
]

logger = logging.getLogger(__name__)

FORMAT = "pymatgen-crystalnet-weights"
FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"


class WeightsError(ValueError):
    """A weights folder is missing, malformed, tampered with, or does not fit its config."""


def _state_for_saving(model: CrystalNet, half: bool) -> dict[str, torch.Tensor]:
    state = {}
    for name, tensor in model.state_dict().items():
        t = tensor.detach().to("cpu")
        if half and t.is_floating_point():
            t = t.to(torch.float16)
        state[name] = t.contiguous()
    return state


def save_model(
    model: CrystalNet,
    folder: str | Path,
    *,
    half: bool = False,
    metadata: dict[str, Any] | None = None,
) -> Path:
    """Save ``model`` into ``folder`` (created if needed) as safetensors + JSON config.

    Parameters
    ----------
    model
        The model (unwrap DDP / ``torch.compile`` wrappers first, or pass ``.module``).
    folder
        Target folder; existing weights there are replaced.
    half
        Store floating tensors as float16 (half the size; loaded back as float32).
    metadata
        JSON-serialisable notes stored in the config (training data, epochs, scores, …).

    Returns
    -------
    Path
        The folder.
    """
    model = getattr(model, "_orig_mod", model)
    model = getattr(model, "module", model)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    weights = folder / WEIGHTS_FILE
    with atomic_path(weights) as tmp:
        save_file(_state_for_saving(model, half), str(tmp), metadata={"format": FORMAT})
        digest = sha256_file(tmp)
    doc = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "config": model.config.as_dict(),
        "weights_file": WEIGHTS_FILE,
        "sha256": digest,
        "dtype": "float16" if half else "float32",
        "n_parameters": model.num_parameters(),
        "metadata": metadata or {},
    }
    atomic_write_json(folder / CONFIG_FILE, doc)
    logger.debug("Saved weights to %s (sha256 %s…)", folder, digest[:12])
    return folder


def read_weights_config(folder: str | Path) -> dict[str, Any]:
    """Read and check the ``config.json`` of a weights folder (no tensors are loaded)."""
    path = Path(folder) / CONFIG_FILE
    if not path.is_file():
        raise WeightsError(f"No {CONFIG_FILE} in {folder}: not a CrystalNet weights folder.")
    try:
        doc = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise WeightsError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise WeightsError(f"{path} is not a CrystalNet weights config (format != {FORMAT!r}).")
    version = doc.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise WeightsError(
            f"{path} has format_version {version!r}; expected an integer from 1 to {FORMAT_VERSION}."
        )
    if version > FORMAT_VERSION:
        raise WeightsError(
            f"{path} has format version {version}; this package reads "
            f"up to {FORMAT_VERSION}. Upgrade pymatgen-crystalnet."
        )
    for key in ("config", "sha256"):
        if key not in doc:
            raise WeightsError(f"{path} lacks the {key!r} entry.")
    if not isinstance(doc["config"], dict):
        raise WeightsError(
            f"{path}: 'config' must be a mapping of model settings, got {type(doc['config']).__name__} "
            f"({str(doc['config'])[:40]})."
        )
    if not isinstance(doc["sha256"], str):
        raise WeightsError(f"{path}: 'sha256' must be a hex string, got {type(doc['sha256']).__name__}.")
    _weights_path(Path(folder), doc)
    return doc


def _weights_path(folder: Path, doc: dict[str, Any]) -> Path:
    """The weights file named by ``doc``, refused unless it is a file name inside ``folder``."""
    name = doc.get("weights_file", WEIGHTS_FILE)
    if not isinstance(name, str) or not name.strip():
        raise WeightsError(f"{folder / CONFIG_FILE}: 'weights_file' must be a file name, got {name!r}.")
    candidate = folder / name
    inside = Path(os.path.normpath(candidate.resolve())).is_relative_to(folder.resolve())
    if Path(name).is_absolute() or ".." in Path(name).parts or not inside:
        raise WeightsError(
            f"{folder / CONFIG_FILE}: 'weights_file' {name!r} points outside the weights folder {folder}; "
            "refusing to read it (a weights folder must be self-contained)."
        )
    return candidate


def parameter_bytes(config: CrystalNetConfig) -> int:
    """Bytes of float32 parameters and buffers the architecture of ``config`` needs.

    Counted on PyTorch's ``meta`` device (nothing is allocated). Where a part of the model
    cannot be built there, a lower bound from the widest layers is returned instead: the
    regressor's and the fusion network's square weight matrices.
    """
    try:
        with torch.device("meta"):
            model = CrystalNet(config)
    except (RuntimeError, NotImplementedError):
        square = (
            config.regressor_blocks * config.regressor_layers_per_block * config.regressor_hidden**2
            + config.fusion_layers * config.fusion_hidden**2
            + config.composition_layers * config.composition_hidden**2
        )
        return int(square) * 4
    n = sum(p.numel() for p in model.parameters()) + sum(b.numel() for b in model.buffers())
    return int(n) * 4


#: Largest share of the available memory an architecture's parameters may take.
MEMORY_FRACTION = 0.5


def _check_size(config: CrystalNetConfig, folder: Path) -> None:
    need = parameter_bytes(config)
    free = available_memory()
    if free is not None and need > MEMORY_FRACTION * free:
        raise WeightsError(
            f"The architecture in {folder / CONFIG_FILE} needs {need / 1e9:.3g} GB of parameters "
            f"(e.g. regressor_hidden = {config.regressor_hidden}), more than {MEMORY_FRACTION:.0%} of the "
            f"{free / 1e9:.3g} GB available; refusing to build it."
        )


def load_model(
    folder: str | Path,
    device: str | torch.device = "cpu",
    *,
    verify: bool = True,
) -> CrystalNet:
    """Load a model saved by :func:`save_model`, in eval mode.

    Parameters
    ----------
    folder
        The weights folder.
    device
        Where to put the model.
    verify
        Check the SHA-256 of the weights file against the one recorded in the config.

    Raises
    ------
    WeightsError
        If a file is missing or malformed, the weights' SHA-256 does not match the config
        (tampering or corruption), or the tensors do not match the architecture.
    """
    return _load(Path(folder), device, verify)[0]


def load_model_and_metadata(
    folder: str | Path,
    device: str | torch.device = "cpu",
    *,
    verify: bool = True,
) -> tuple[CrystalNet, dict[str, Any]]:
    """Load a model saved by :func:`save_model` together with its recorded metadata.

    Parameters are those of :func:`load_model`.

    Returns
    -------
    tuple
        The model (eval mode, on ``device``) and the ``metadata`` mapping of its
        ``config.json`` (what the weights record about their training data: ``cell``,
        ``b_factor``, ``composition_mode``, …; empty when none was saved).

    Raises
    ------
    WeightsError
        As :func:`load_model`.
    """
    model, doc = _load(Path(folder), device, verify)
    return model, dict(doc.get("metadata") or {})


def _load(folder: Path, device: str | torch.device, verify: bool) -> tuple[CrystalNet, dict[str, Any]]:
    """The checked model of a weights folder and its config document."""
    doc = read_weights_config(folder)
    try:
        config = CrystalNetConfig.from_dict(doc["config"])
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise WeightsError(f"Invalid model config in {folder / CONFIG_FILE}: {exc}") from None
    _check_size(config, folder)
    weights = _weights_path(folder, doc)
    if not weights.is_file():
        raise WeightsError(f"Weights file {weights} is missing.")
    if verify:
        digest = sha256_file(weights)
        if digest != doc["sha256"]:
            raise WeightsError(
                f"SHA-256 of {weights} ({digest[:16]}…) does not match the one recorded in "
                f"{folder / CONFIG_FILE} ({str(doc['sha256'])[:16]}…): the weights were "
                "modified or corrupted after saving. Refusing to load them."
            )
    try:
        state = load_file(weights)
    except (SafetensorError, OSError, ValueError) as exc:
        raise WeightsError(f"Cannot read {weights} as safetensors: {exc}") from None
    model = CrystalNet(config)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = [
        f"{k}: file {tuple(state[k].shape)} vs config {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and tuple(state[k].shape) != tuple(v.shape)
    ]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"missing tensors {missing[:5]}{' …' if len(missing) > 5 else ''}")
        if unexpected:
            parts.append(f"unexpected tensors {unexpected[:5]}{' …' if len(unexpected) > 5 else ''}")
        if wrong:
            parts.append(f"shape mismatches {wrong[:5]}{' …' if len(wrong) > 5 else ''}")
        raise WeightsError(
            f"Weights in {weights} do not fit the architecture of its config: " + "; ".join(parts) + "."
        )
    state = {k: v.to(expected[k].dtype) for k, v in state.items()}
    model.load_state_dict(state)
    model.to(device)
    model.eval()
    return model, doc
