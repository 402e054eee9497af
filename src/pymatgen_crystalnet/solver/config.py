"""Settings of one solve: how many candidates, on which grid, from which latent samples.

:class:`SolveConfig` holds the settings of :meth:`CrystalNetSolver.solve
<pymatgen_crystalnet.solver.solver.CrystalNetSolver.solve>` that are not the inputs (pattern,
composition, lattice, wavelength), with their defaults; ``crystalnet solve`` builds one from
its options and ``--set``. Importing this module does not import torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, get_args

from monty.json import MSONable

from pymatgen_crystalnet.model.config import CompositionMode

__all__ = ["SolveConfig"]


@dataclass
class SolveConfig(MSONable):
    """How to solve one pattern.

    Parameters
    ----------
    n_candidates
        Latent samples drawn, i.e. candidate densities proposed and verified.
    grid
        Grid points per cell axis of each candidate.
    seed
        Seed of the latent samples (reproducible candidates); None draws a fresh one.
    composition_mode
        Composition ablation of the input (``"full"``, ``"no_ratios"``, ``"drop_element"``,
        ``"none"``); None infers it from the composition given.
    deterministic
        Use the latent means (all candidates identical).
    """

    n_candidates: int = 5
    grid: int = 50
    seed: int | None = 0
    composition_mode: CompositionMode | None = None
    deterministic: bool = False

    def __post_init__(self) -> None:
        if self.n_candidates < 1:
            raise ValueError(f"n_candidates must be at least 1, got {self.n_candidates}.")
        if self.grid < 4:
            raise ValueError(f"grid must be at least 4 points per axis, got {self.grid}.")
        modes = get_args(CompositionMode)
        if self.composition_mode is not None and self.composition_mode not in modes:
            raise ValueError(
                f"composition_mode must be one of {modes} or None, got {self.composition_mode!r}."
            )

    def solve_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of ``CrystalNetSolver.solve`` these settings stand for."""
        return {
            "n_candidates": self.n_candidates,
            "grid": self.grid,
            "seed": self.seed,
            "composition_mode": self.composition_mode,
            "deterministic": self.deterministic,
        }
