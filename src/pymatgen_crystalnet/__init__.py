"""pymatgen-crystalnet: crystal structure solution from powder XRD with generative deep learning.

Importing the top-level package is cheap: it pulls in neither torch, jobflow nor maggma and
creates no files. Sub-packages are loaded on first use.

Layers (each imports only from the ones above it):

- :mod:`pymatgen_crystalnet.physics` -- form factors, IAM electron density, powder patterns,
  forward model from a density grid, pattern agreement, unit conversions.
- :mod:`pymatgen_crystalnet.featurize` -- pattern and composition vectors, augmentations.
- :mod:`pymatgen_crystalnet.io` -- reading measured powder patterns, writing densities.
"""

from __future__ import annotations

import logging

from pymatgen_crystalnet._version import __version__

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = ["CrystalNetSolver", "__version__"]


def __getattr__(name: str) -> object:
    """Load the solver (and torch) only when it is asked for."""
    if name == "CrystalNetSolver":
        from pymatgen_crystalnet.solver.solver import CrystalNetSolver

        return CrystalNetSolver
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
