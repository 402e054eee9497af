"""pymatgen-crystalnet: crystal structure solution from powder XRD with generative deep learning.

Importing the top-level package is cheap: it pulls in neither torch, jobflow nor maggma and
creates no files. Sub-packages are loaded on first use.

Layers, top to bottom; each imports only from the layers below it, and siblings joined by "|"
not from each other (enforced by ``lint-imports``; see ``docs/architecture.md``):

- ``cli`` -- the ``crystalnet`` command line.
- ``workflows`` -- jobflow Makers and flows, stores, FireWorks.
- ``plotting`` -- figures of solve results and evaluation examples.
- ``solver`` | ``evaluation`` -- :class:`CrystalNetSolver`; the evaluation protocol and reports.
- ``indexing`` | ``structure`` -- unit cells from peak positions; atoms from densities, space
  groups from absences, symmetry search and refinement against the pattern.
- ``training`` -- resumable, distributed training.
- ``scoring`` -- density-map scores, forward verification and ranking, shared by training,
  evaluation and the solver.
- ``model`` | ``data`` -- the CrystalNet network and its weights; datasets from structures.
- ``featurize`` -- the model's XRD and composition vectors, augmentations.
- ``io`` -- reading measured powder patterns, writing density files.
- ``physics`` -- form factors, IAM electron density, powder patterns, forward model from a
  density grid, pattern agreement, unit conversions.
- base helpers: ``_version`` | ``atomic`` | ``hashing`` | ``_lazy`` | ``devices`` | ``jsonsafe`` |
  ``configs``.
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
