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

__all__ = ["MAX_CANDIDATES", "MAX_GRID", "MIN_GRID", "SolveConfig"]

#: Fewest grid points per axis: at 8 points a 4 Å cell is sampled every 0.5 Å, the size of an
#: atom's core density, and the forward check still resolves reflections up to |h| = 4;
#: below it the density and its verification say nothing.
MIN_GRID: int = 8
#: Most grid points per axis: 512³ float32 is 0.5 GB per candidate (the memory estimate of
#: ``solver.limits`` refuses less than that where memory is short).
MAX_GRID: int = 512
#: Most candidates per solve: each is a full model evaluation and verification (about 4 s on
#: one CPU thread at 50³); 1,000 is over an hour there.
MAX_CANDIDATES: int = 1000


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
    temperature
        Scale of the latent noise of the candidates: z = μ + T·σ·ε (1: the model's posterior;
        smaller: candidates closer to the latent means; 0: as ``deterministic``).
    index_seconds
        Time limit (s) of indexing when no lattice is given; when it is reached the best cells
        found so far are judged (and refused if they fail a figure of merit).
    """

    n_candidates: int = 5
    grid: int = 50
    seed: int | None = 0
    composition_mode: CompositionMode | None = None
    deterministic: bool = False
    index_seconds: float = 60.0
    temperature: float = 1.0

    def __post_init__(self) -> None:
        if not 1 <= self.n_candidates <= MAX_CANDIDATES:
            raise ValueError(
                f"n_candidates must be between 1 and {MAX_CANDIDATES}, got {self.n_candidates} "
                "(each candidate is one model evaluation and one verification)."
            )
        if self.grid < MIN_GRID:
            raise ValueError(
                f"grid must be at least {MIN_GRID} points per axis, got {self.grid}: a coarser grid samples "
                "a 4 Å cell more coarsely than an atom's core (0.5 Å) and its pattern check resolves "
                "almost no reflections."
            )
        if self.grid > MAX_GRID:
            raise ValueError(
                f"grid must be at most {MAX_GRID} points per axis, got {self.grid}: {self.grid}³ float32 is "
                f"{self.grid**3 * 4 / 1e9:.3g} GB per candidate."
            )
        if not 0.0 <= self.temperature < float("inf"):
            raise ValueError(f"temperature must be finite and non-negative, got {self.temperature}.")
        if not self.index_seconds > 0:
            raise ValueError(f"index_seconds must be positive, got {self.index_seconds}.")
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
            "index_seconds": self.index_seconds,
            "temperature": self.temperature,
        }
