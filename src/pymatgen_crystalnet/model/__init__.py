"""The CrystalNet network (PyTorch).

Public names are loaded lazily, so ``from pymatgen_crystalnet.model import CrystalNetConfig``
does not import torch.

- :class:`CrystalNetConfig` (``config.py``): hyperparameters and the ``paper`` / ``small``
  presets.
- :class:`CrystalNet` (``crystalnet.py``): the model; encoders in ``encoders.py``, positional
  encoding in ``positional.py``, FiLM fusion in ``film.py``, regressor in ``regressor.py``.
- :func:`save_model`, :func:`load_model`, :class:`WeightsError` (``weights.py``): safetensors
  + JSON weights folders.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "CrystalNet",
    "CrystalNetConfig",
    "WeightsError",
    "grid_points",
    "load_model",
    "save_model",
]

_WHERE = {
    "CrystalNetConfig": "config",
    "CrystalNet": "crystalnet",
    "grid_points": "crystalnet",
    "WeightsError": "weights",
    "load_model": "weights",
    "save_model": "weights",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
