"""Documents of the solve → verify → rank jobs: pattern, solve and its candidates, verification, solution."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from pymatgen_crystalnet.workflows.density_grid import DensityGrid
from pymatgen_crystalnet.workflows.provenance import Document, Provenance

__all__ = [
    "CandidateDocument",
    "PatternDocument",
    "SolutionDocument",
    "SolveDocument",
    "VerificationDocument",
]


class PatternDocument(Document):
    """A powder pattern to solve, with what is known of the crystal.

    Attributes
    ----------
    material_id, formula, crystal_system, split
        Identity of the crystal the pattern came from (if it came from a dataset).
    xrd_vector
        The model's 1024-bin Mo Kα vector (max 1).
    composition
        Formula given to the solver (``None``: no formula).
    lattice
        The cell (rows, Å) the density should live on, or None to index a cubic pattern.
    cell
        Canonical-cell convention of ``lattice``.
    """

    task_label: Literal["pattern"] = "pattern"
    material_id: str | None = None
    formula: str | None = None
    crystal_system: str | None = None
    split: str | None = None
    xrd_vector: list[float]
    composition: str | None = None
    lattice: list[list[float]] | None = None
    cell: str | None = None
    provenance: Provenance | None = None


class CandidateDocument(Document):
    """One candidate density of a solve.

    Attributes
    ----------
    rank
        The solver's rank (0 = best agreement).
    sample
        Latent sample index.
    cosine, rwp
        The solver's own agreement of the candidate's pattern with the input.
    electrons, density_max
        Integral over the cell and the largest value.
    density_grid
        The density (data store).
    """

    rank: int
    sample: int
    cosine: float
    rwp: float
    electrons: float
    density_max: float
    density_grid: DensityGrid


class SolveDocument(Document):
    """Output of :class:`~.solving_jobs.SolveMaker`: candidate densities for one pattern.

    Attributes
    ----------
    model
        ``{"checkpoint_dir", "weights_sha256", "name"}`` of the model used.
    pattern
        Identity of the input (material id, formula) when known.
    composition, composition_mode
        Formula given and the ablation mode used.
    lattice, lattice_source
        The cell of the densities and where it came from (given or indexed).
    input_vector, covered
        The input on the model's axis and the bins it covers (for verification).
    n_candidates, grid, seed
        Solver settings.
    candidates
        Ranked candidates, best first.
    wall_time_s
        Seconds the solve took.
    """

    task_label: Literal["solve"] = "solve"
    model: dict[str, Any]
    pattern: dict[str, Any] = Field(default_factory=dict)
    composition: str | None = None
    composition_mode: str
    lattice: list[list[float]]
    lattice_source: str
    input_vector: list[float]
    covered: list[bool]
    n_candidates: int
    grid: int
    seed: int | None = None
    candidates: list[CandidateDocument]
    wall_time_s: float
    provenance: Provenance


class VerificationDocument(Document):
    """Output of :class:`~.solving_jobs.VerifyMaker`: one candidate's forward pattern vs the input.

    Attributes
    ----------
    sample
        Latent sample verified.
    cosine, rwp
        Agreement of the candidate's computed pattern with the input (cosine: 1 = same;
        Rwp with least-squares scale: 0 = same) over ``compared_bins`` bins.
    electrons
        Integral of the density over the cell.
    forward_vector
        The candidate's 1024-bin pattern (data store).
    """

    task_label: Literal["verification"] = "verification"
    sample: int
    cosine: float
    rwp: float
    compared_bins: int
    electrons: float
    forward_vector: list[float]
    wall_time_s: float
    provenance: Provenance


class SolutionDocument(Document):
    """Output of the ranking step of :class:`~.flows.SolveVerifyMaker`.

    Attributes
    ----------
    ranking
        ``[{"rank", "sample", "cosine", "rwp", "solver_rank"}]``, best first by the
        independent verification.
    best_sample, best_cosine, best_rwp
        The winner.
    agrees_with_solver
        Whether the verification ranked the same candidate first as the solver did.
    density_grid
        The winner's density (data store).
    """

    task_label: Literal["solution"] = "solution"
    pattern: dict[str, Any] = Field(default_factory=dict)
    ranking: list[dict[str, Any]]
    best_sample: int
    best_cosine: float
    best_rwp: float
    agrees_with_solver: bool
    lattice: list[list[float]]
    density_grid: DensityGrid
    provenance: Provenance
