"""The CrystalNet network (PyTorch).

Public names are loaded lazily, so ``from pymatgen_crystalnet.model import CrystalNetConfig``
does not import torch.

- :class:`CrystalNetConfig` (``config.py``): hyperparameters and the ``paper`` / ``small``
  presets (and ``small-lattice`` / ``small-reflections``, which also read the cell).
- :class:`CrystalNet` (``crystalnet.py``): the model; encoders in ``encoders.py``, positional
  encoding in ``positional.py``, FiLM fusion in ``film.py``, regressor in ``regressor.py``,
  the optional inputs from the known cell in ``cell_inputs.py``.
- :func:`save_model`, :func:`load_model`, :func:`load_model_and_metadata`,
  :class:`WeightsError` (``weights.py``): safetensors + JSON weights folders.
"""

from __future__ import annotations

from pymatgen_crystalnet._lazy import lazy_exports

__all__ = [
    "CrystalNet",
    "CrystalNetConfig",
    "WeightsError",
    "grid_points",
    "load_model",
    "load_model_and_metadata",
    "save_model",
]

_WHERE = {
    "CrystalNetConfig": "config",
    "CrystalNet": "crystalnet",
    "grid_points": "crystalnet",
    "WeightsError": "weights",
    "load_model": "weights",
    "load_model_and_metadata": "weights",
    "save_model": "weights",
}


__getattr__, __dir__ = lazy_exports(__name__, _WHERE, __all__)
