"""Training CrystalNet: trainer, schedule, augmentation, checkpoints.

Public names are loaded lazily (``TrainingConfig`` imports no torch).

- :class:`TrainingConfig` (``config.py``): training hyperparameters, ``paper``/``small``
  presets.
- :class:`Trainer`, :func:`train` (``trainer.py``): the run (model, optimizer, run folder,
  epochs, best weights; DDP-aware); one epoch's steps in ``epoch.py``, validation during
  training in ``validation.py``, the per-epoch history files in ``history.py``.
- :class:`SyntheticCrystals` (``synthetic.py``): toy crystals for tests and smoke runs.
- Validation scores come from :mod:`pymatgen_crystalnet.scoring.alignment` (the same
  implementation the evaluation uses).
- ``checkpoint.py``: atomic, resumable snapshots; ``schedule.py``: SGDR learning rate;
  ``augment.py``: batch augmentations; ``distributed.py``: ``torchrun`` process groups.
"""

from __future__ import annotations

from pymatgen_crystalnet._lazy import lazy_exports

__all__ = ["SyntheticCrystals", "Trainer", "TrainingConfig", "train"]

_WHERE = {
    "TrainingConfig": "config",
    "Trainer": "trainer",
    "train": "trainer",
    "SyntheticCrystals": "synthetic",
}


__getattr__, __dir__ = lazy_exports(__name__, _WHERE, __all__)
