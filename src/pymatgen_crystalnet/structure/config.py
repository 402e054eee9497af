"""Settings of one structure solution: which sources feed the pool, how much is refined, the budget.

:class:`StructureSolveConfig` holds every setting of
:func:`pymatgen_crystalnet.structure.pipeline.solve_structures` that is not an input (cell,
composition, pattern, densities). Importing this module does not import torch or pyxtal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from monty.json import MSONable

__all__ = ["StructureSolveConfig", "space_group_number"]


def space_group_number(space_group: int | str) -> int:
    """The international number (1–230) of a space group given as a number or a symbol.

    Raises
    ------
    ValueError
        For a number outside 1–230 or a symbol pymatgen does not know.
    """
    if isinstance(space_group, bool):
        raise ValueError(f"space_group must be a number 1–230 or a symbol, got {space_group!r}.")
    if isinstance(space_group, int) or (isinstance(space_group, str) and space_group.strip().isdigit()):
        number = int(space_group)
        if not 1 <= number <= 230:
            raise ValueError(f"A space-group number lies in 1–230, got {number}.")
        return number
    if not isinstance(space_group, str) or not space_group.strip():
        raise ValueError(f"space_group must be a number 1–230 or a symbol, got {space_group!r}.")
    from pymatgen.symmetry.groups import SpaceGroup

    try:
        return int(SpaceGroup(space_group.strip()).int_number)
    except (ValueError, KeyError) as exc:
        raise ValueError(f"Unknown space-group symbol {space_group!r} ({exc}).") from None


@dataclass
class StructureSolveConfig(MSONable):
    """How to turn a pattern (and candidate densities) into refined crystal structures.

    Parameters
    ----------
    refine
        Refine every kept candidate against the pattern (free Wyckoff parameters, B, scale).
    z
        Formula units per cell of the pattern's lattice; None tries every Z the cell volume
        allows (and the decoded densities' electron counts).
    space_group
        A given space group (number or Hermann–Mauguin symbol); None ranks hypotheses from the
        pattern's systematic absences (and the decoded densities' symmetry).
    n_hypotheses
        Space-group hypotheses searched (the best consistent ones).
    n_search_trials
        pyxtal random crystals per hypothesis and Z.
    use_network
        Decode the densities given into the pool.
    use_search
        Run the symmetry-constrained random search into the pool.
    n_refine
        Pool candidates refined: the best (by stick Rwp before refinement) of each source in
        turns (decoded densities, search).
    keep
        Structures returned.
    time_budget_s
        Wall-clock budget in seconds (None: no limit). The clock is checked between stages and
        between refinements; what was skipped is reported in the solution.
    seed
        Seed of the search and of the refinement's random starts.
    b_factor
        Isotropic Debye–Waller B (Å²) of the densities and of the unrefined candidates' patterns.
    profile_fit
        For a measured profile (:mod:`~pymatgen_crystalnet.structure.profile_pipeline`): extract
        the reflection intensities by a Pawley fit and use them as the sticks, then
        Rietveld-refine the best structures against the profile. False: the profile's picked
        peaks are the sticks (the stick path alone).
    n_rietveld
        Best structures Rietveld-refined against a measured profile (0: none).
    kalpha2
        Kα1/Kα2 doublet in the profile fit: ``"auto"`` (laboratory Cu, Mo, Co, Fe, Cr, Ag Kα
        wavelengths), True or False.
    n_background
        Chebyshev background terms of the profile fit.
    """

    refine: bool = True
    z: int | None = None
    space_group: int | str | None = None
    n_hypotheses: int = 3
    n_search_trials: int = 40
    use_network: bool = True
    use_search: bool = True
    n_refine: int = 8
    keep: int = 5
    time_budget_s: float | None = 60.0
    seed: int = 0
    b_factor: float = 1.0
    profile_fit: bool = True
    n_rietveld: int = 3
    kalpha2: bool | str = "auto"
    n_background: int = 12

    def __post_init__(self) -> None:
        if self.z is not None and (isinstance(self.z, bool) or int(self.z) != self.z or self.z < 1):
            raise ValueError(f"z must be a positive integer or None, got {self.z!r}.")
        if self.space_group is not None:
            space_group_number(self.space_group)
        for name in ("n_hypotheses", "n_search_trials", "keep"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}.")
        for name in ("n_refine", "n_rietveld"):
            if int(getattr(self, name)) < 0:
                raise ValueError(f"{name} must be ≥ 0, got {getattr(self, name)}.")
        if self.kalpha2 not in ("auto", True, False):
            raise ValueError(f"kalpha2 must be 'auto', True or False, got {self.kalpha2!r}.")
        if not 1 <= int(self.n_background) <= 40:
            raise ValueError(f"n_background must lie in 1–40, got {self.n_background}.")
        if self.time_budget_s is not None and not (
            math.isfinite(self.time_budget_s) and self.time_budget_s > 0
        ):
            raise ValueError(
                f"time_budget_s must be a positive number of seconds or None, got {self.time_budget_s}."
            )
        if not (math.isfinite(self.b_factor) and self.b_factor >= 0):
            raise ValueError(f"b_factor must be a finite number ≥ 0 Å², got {self.b_factor}.")
        if not (self.use_network or self.use_search):
            raise ValueError("Nothing feeds the pool: set use_network or use_search (or both).")

    @property
    def space_group_number(self) -> int | None:
        """The given space group's number (None when not given)."""
        return None if self.space_group is None else space_group_number(self.space_group)
