"""Documents of the solve → verify → rank jobs: pattern, solve and its candidates, verification, solution."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from pymatgen_crystalnet.workflows.density_grid import DensityGrid
from pymatgen_crystalnet.workflows.provenance import Document, Provenance, SettingsDict

if TYPE_CHECKING:
    from pymatgen.core import Structure

    from pymatgen_crystalnet.solver.result import SolvedStructure

__all__ = [
    "CandidateDocument",
    "PatternDocument",
    "SolutionDocument",
    "SolveDocument",
    "StructureDocument",
    "VerificationDocument",
]

#: A pymatgen object's ``as_dict()`` (jobflow decodes stored documents recursively, so a loaded
#: document may hand back the object itself: it is turned into its dict again).
PymatgenDict = SettingsDict


class StructureDocument(Document):
    """A crystal structure solved from the pattern, refined against it.

    Attributes
    ----------
    rank
        0 for the best (lowest Rwp) structure of the solve.
    formula, space_group, space_group_number
        Reduced formula and space group.
    origin
        ``"network"`` (decoded from a candidate density) or ``"search"``.
    sample, merged_samples
        The latent sample it was decoded from, and others whose models were the same crystal.
    refined
        Whether it was refined against the pattern.
    rwp, r_bragg, cosine
        Figures of merit against the input (None when not computed).
    structure
        pymatgen ``Structure.as_dict()``.
    """

    rank: int
    formula: str
    space_group: str | None = None
    space_group_number: int | None = None
    origin: str
    sample: int | None = None
    merged_samples: list[int] = Field(default_factory=list)
    refined: bool = True
    rwp: float | None = None
    r_bragg: float | None = None
    cosine: float | None = None
    structure: PymatgenDict

    @classmethod
    def from_solved(cls, solved: SolvedStructure) -> StructureDocument:
        """The document of a :class:`~pymatgen_crystalnet.solver.result.SolvedStructure`."""
        from pymatgen_crystalnet.jsonsafe import finite_or_none

        return cls(
            rank=solved.rank,
            formula=solved.structure.composition.reduced_formula,
            space_group=solved.space_group,
            space_group_number=solved.space_group_number,
            origin=solved.origin,
            sample=solved.sample,
            merged_samples=list(solved.merged_samples),
            refined=solved.refined,
            rwp=finite_or_none(solved.rwp),
            r_bragg=finite_or_none(solved.r_bragg),
            cosine=finite_or_none(solved.cosine),
            structure=solved.structure.as_dict(),
        )

    def to_structure(self) -> Structure:
        """The pymatgen ``Structure``."""
        from pymatgen.core import Structure

        return Structure.from_dict(self.structure)


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
    structure, structure_reason
        The best structure the density led to, or why there is none.
    """

    rank: int
    sample: int
    cosine: float
    rwp: float
    electrons: float
    density_max: float
    density_grid: DensityGrid
    structure: StructureDocument | None = None
    structure_reason: str | None = None


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
    structures, structure_info
        The crystal structures of the solve (best Rwp first) and how they were found (space-group
        hypotheses, timings, ``reason`` when there is none).
    wavelength
        Wavelength of the input (Å).
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
    structures: list[StructureDocument] = Field(default_factory=list)
    structure_info: dict[str, Any] = Field(default_factory=dict)
    wavelength: float | None = None
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
    structure
        The structure the candidate led to (carried from the solve), if any.
    """

    task_label: Literal["verification"] = "verification"
    sample: int
    cosine: float
    rwp: float
    compared_bins: int
    electrons: float
    forward_vector: list[float]
    structure: StructureDocument | None = None
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
    structures, best_structure
        The crystal structures of the solve (best Rwp first), and the first of them.
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
    structures: list[StructureDocument] = Field(default_factory=list)
    best_structure: StructureDocument | None = None
    provenance: Provenance
