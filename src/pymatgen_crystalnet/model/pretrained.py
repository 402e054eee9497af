"""Named pretrained models shipped inside the package (offline, nothing downloaded).

Each model is a folder ``pymatgen_crystalnet/pretrained/<name>/`` holding the files of
:func:`~pymatgen_crystalnet.model.weights.save_model` (``model.safetensors``, ``config.json``)
and a model card ``README.md``. ``pretrained/default.txt`` names the default model.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = ["default_pretrained", "list_pretrained", "pretrained_path"]


def _root() -> Path:
    return Path(str(resources.files("pymatgen_crystalnet"))) / "pretrained"


def list_pretrained() -> dict[str, dict[str, Any]]:
    """Bundled models by name, with the metadata recorded in their ``config.json``."""
    root = _root()
    out: dict[str, dict[str, Any]] = {}
    if not root.is_dir():
        return out
    for folder in sorted(p for p in root.iterdir() if (p / "config.json").is_file()):
        info = json.loads((folder / "config.json").read_text())
        out[folder.name] = {
            "path": str(folder),
            "preset": info.get("config", {}).get("preset"),
            "n_parameters": info.get("n_parameters"),
            "dtype": info.get("dtype"),
            **info.get("metadata", {}),
        }
    return out


def default_pretrained() -> str:
    """Name of the default bundled model."""
    marker = _root() / "default.txt"
    if marker.is_file():
        name = marker.read_text().strip()
        if name:
            return name
    names = list(list_pretrained())
    if not names:
        raise FileNotFoundError(
            "No pretrained model is bundled with this installation; train one with "
            "`crystalnet train` and load it with CrystalNetSolver.from_checkpoint(path)."
        )
    return names[0]


def pretrained_path(name: str | None = None) -> Path:
    """Folder of the named bundled model (the default when ``name`` is None).

    Raises
    ------
    ValueError
        If no bundled model has that name; an empty name is refused rather than read as the
        default.
    """
    if name is not None and not name.strip():
        raise ValueError(
            "An empty model name was given; name a bundled model "
            f"({', '.join(list_pretrained()) or 'none'}) or pass None for the default."
        )
    name = default_pretrained() if name is None else name
    available = list_pretrained()
    if name not in available:
        known = ", ".join(available) or "none"
        raise ValueError(f"No bundled model named {name!r}; available: {known}.")
    return Path(available[name]["path"])
