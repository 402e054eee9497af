"""Solving jobs: solve a pattern (:class:`SolveMaker`), verify a candidate (:class:`VerifyMaker`),
rank the candidates (:func:`rank_candidates`), and the run-time fan-out (:func:`verify_candidates`).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

from jobflow import Flow, Maker, Response

from pymatgen_crystalnet.devices import resolve_device
from pymatgen_crystalnet.jsonsafe import finite_or_none
from pymatgen_crystalnet.physics.cells import grid_electrons
from pymatgen_crystalnet.scoring.verification import agreement_key
from pymatgen_crystalnet.workflows.job_decorator import crystalnet_job
from pymatgen_crystalnet.workflows.job_inputs import checked_weights
from pymatgen_crystalnet.workflows.schemas import (
    CandidateDocument,
    DensityGrid,
    PatternDocument,
    SolutionDocument,
    SolveDocument,
    StructureDocument,
    TrainingRunDocument,
    VerificationDocument,
    make_provenance,
)

__all__ = ["SolveMaker", "VerifyMaker", "rank_candidates", "verify_candidates"]


def _default_structure_config() -> Any:
    from pymatgen_crystalnet.structure.config import StructureSolveConfig

    return StructureSolveConfig()


def _structure_document(solved: Any) -> StructureDocument:
    return StructureDocument.from_solved(solved)


def _load_solver(model: TrainingRunDocument | str | None, device: str | None) -> tuple[Any, dict[str, Any]]:
    """The solver of ``model`` on ``device`` (resolved here), and the model's identity."""
    from pymatgen_crystalnet.solver.solver import CrystalNetSolver

    dev = resolve_device(device)
    folder, digest = checked_weights(model)
    solver = CrystalNetSolver.from_checkpoint(folder, device=str(dev))
    return solver, {"checkpoint_dir": str(folder), "weights_sha256": digest, "name": solver.name}


def _pattern_input(pattern: Any) -> tuple[Any, dict[str, Any]]:
    """The solver's ``pattern`` argument and a description of it."""
    import numpy as np

    if isinstance(pattern, PatternDocument):
        return np.asarray(pattern.xrd_vector, dtype=np.float32), {
            "material_id": pattern.material_id, "formula": pattern.formula,
            "crystal_system": pattern.crystal_system, "split": pattern.split, "kind": "vector",
        }  # fmt: skip
    if isinstance(pattern, (list, tuple)) and len(pattern) == 1024:
        return np.asarray(pattern, dtype=np.float32), {"kind": "vector"}
    if isinstance(pattern, (str, os.PathLike)):
        return str(pattern), {"kind": "file", "path": str(pattern)}
    return pattern, {"kind": type(pattern).__name__}


@dataclass
class SolveMaker(Maker):
    """Propose candidate densities for one powder pattern with a trained model.

    Parameters
    ----------
    name
        Job name.
    n_candidates
        Latent samples (candidates) to draw.
    grid
        Grid points per cell axis of the candidates.
    seed
        Seed of the latent samples.
    composition_mode
        Override the composition ablation mode the solver infers.
    wavelength
        Wavelength of the pattern (Å or a name such as ``"CuKa1"``). Required for a
        ``DiffractionPattern`` or a profile file that does not state it; a
        :class:`~.schemas.PatternDocument` or 1024-vector is on the model's Mo Kα axis. Never
        assumed; the one used is recorded in the document's ``pattern`` entry.
    device
        Torch device: ``"auto"`` (or None: CUDA when available, else the CPU), ``"cpu"``,
        ``"cuda"``, ``"cuda:1"``, … Resolved when the job runs; a device absent on the machine
        running it is an error.
    wavelength
        Wavelength of the input (Å or a name such as ``"CuKa"``) when the pattern does not say;
        None: read from the pattern file, Mo Kα for sticks and the model's vector.
    structures
        Solve crystal structures from the densities (needs the formula).
    structure_config
        Settings of the structure step (``refine``, ``z``, ``space_group``, ``time_budget_s``,
        …; :class:`~pymatgen_crystalnet.structure.config.StructureSolveConfig`).
    """

    name: str = "solve"
    n_candidates: int = 5
    grid: int = 50
    seed: int | None = 0
    composition_mode: str | None = None
    wavelength: float | str | None = None
    device: str | None = "auto"
    wavelength: float | str | None = None
    structures: bool = True
    structure_config: Any = field(default_factory=_default_structure_config)

    @crystalnet_job(SolveDocument)
    def make(
        self,
        model: TrainingRunDocument | str | None,
        pattern: PatternDocument | Any,
        composition: str | None = None,
        lattice: list[list[float]] | float | None = None,
    ) -> SolveDocument:
        """Solve ``pattern`` with ``model``.

        Parameters
        ----------
        model
            A :class:`~.schemas.TrainingRunDocument`, a weights folder, or None for the
            bundled model.
        pattern
            A :class:`~.schemas.PatternDocument` (its formula and cell are used unless given
            here), a 1024-bin vector, a ``DiffractionPattern``, or a pattern file path.
        composition
            Formula (or elements) known for the crystal.
        lattice
            The cell (3×3 rows, Å) or a cubic ``a``; None: from the pattern document, or
            indexed (cubic).
        """
        t0 = time.perf_counter()
        if isinstance(pattern, PatternDocument):
            composition = composition if composition is not None else pattern.composition
            lattice = lattice if lattice is not None else pattern.lattice
        solver, model_info = _load_solver(model, self.device)
        pattern_arg, pattern_info = _pattern_input(pattern)
        config = self.structure_config
        if isinstance(config, dict):  # a Maker read back from JSON
            from pymatgen_crystalnet.structure.config import StructureSolveConfig

            config = StructureSolveConfig.from_dict(config)
        result = solver.solve(
            pattern_arg,
            composition,
            lattice=lattice,
            wavelength=self.wavelength,
            n_candidates=self.n_candidates,
            grid=self.grid,
            seed=self.seed,
            composition_mode=self.composition_mode,
            structures=config if self.structures else False,
        )
        pattern_info = {**pattern_info, "wavelength": result.info["wavelength"],
                        "wavelength_source": result.info["pattern"]["wavelength_source"]}  # fmt: skip
        candidates = [
            CandidateDocument(
                rank=c.rank,
                sample=c.sample,
                cosine=c.verification.cosine,
                rwp=c.verification.rwp,
                electrons=grid_electrons(c.grid, result.lattice.volume),
                density_max=float(c.grid.max()),
                density_grid=DensityGrid.from_array(c.grid, result.lattice),
                structure=None if c.solution is None else _structure_document(c.solution),
                structure_reason=c.structure_reason,
            )
            for c in result.candidates
        ]
        return SolveDocument(
            model=model_info,
            pattern=pattern_info,
            composition=None if composition is None else str(composition),
            composition_mode=result.composition_mode,
            lattice=result.lattice.matrix.tolist(),
            lattice_source=result.lattice_source,
            input_vector=[float(v) for v in result.input_vector],
            covered=[bool(v) for v in result.covered],
            n_candidates=self.n_candidates,
            grid=self.grid,
            seed=self.seed,
            candidates=candidates,
            structures=[_structure_document(s) for s in result.structures],
            structure_info=finite_or_none(result.structure_info),
            wavelength=result.info.get("wavelength"),
            wall_time_s=time.perf_counter() - t0,
            provenance=make_provenance(self, **model_info, pattern=pattern_info),
        )


@dataclass
class VerifyMaker(Maker):
    """Compute a candidate density's powder pattern and compare it with the input.

    The forward model (FFT of the density on its lattice → structure factors → Mo Kα powder
    pattern) gives the candidate's 1024-bin vector; cosine similarity and Rwp are taken over
    the bins the input covers and the grid resolves.

    Parameters
    ----------
    name
        Job name.
    """

    name: str = "verify"

    @crystalnet_job(VerificationDocument)
    def make(
        self,
        candidate: CandidateDocument | DensityGrid,
        target_vector: list[float],
        covered: list[bool] | None = None,
    ) -> VerificationDocument:
        """Verify one candidate against the input vector (and its covered bins)."""
        from pymatgen_crystalnet.scoring.verification import verify_density

        t0 = time.perf_counter()
        grid_doc = candidate.density_grid if isinstance(candidate, CandidateDocument) else candidate
        sample = candidate.sample if isinstance(candidate, CandidateDocument) else -1
        check = verify_density(grid_doc.array(), grid_doc.lattice, target_vector, covered)
        return VerificationDocument(
            sample=sample,
            cosine=check.cosine,
            rwp=check.rwp,
            compared_bins=check.compared_bins,
            electrons=grid_doc.electrons,
            forward_vector=[float(v) for v in check.vector],
            structure=candidate.structure if isinstance(candidate, CandidateDocument) else None,
            wall_time_s=time.perf_counter() - t0,
            provenance=make_provenance(self, density_sha256=grid_doc.sha256),
        )


@crystalnet_job(SolutionDocument)
def rank_candidates(solve: SolveDocument, verifications: list[VerificationDocument]) -> SolutionDocument:
    """Rank the candidates of ``solve`` by their independent verification (cosine, then Rwp)."""
    by_sample = {c.sample: c for c in solve.candidates}
    order = sorted(verifications, key=lambda v: agreement_key(v.cosine, v.rwp))
    ranking = [
        {"rank": r, "sample": v.sample, "cosine": v.cosine, "rwp": v.rwp,
         "solver_rank": by_sample[v.sample].rank}
        for r, v in enumerate(order)
    ]  # fmt: skip
    best = order[0]
    return SolutionDocument(
        pattern=solve.pattern,
        ranking=ranking,
        best_sample=best.sample,
        best_cosine=best.cosine,
        best_rwp=best.rwp,
        agrees_with_solver=by_sample[best.sample].rank == 0,
        lattice=solve.lattice,
        density_grid=by_sample[best.sample].density_grid,
        structures=list(solve.structures),
        best_structure=solve.structures[0] if solve.structures else None,
        provenance=make_provenance(None, model=solve.model, pattern=solve.pattern),
    )


@crystalnet_job(None)
def verify_candidates(solve: SolveDocument, verify_maker: VerifyMaker | None = None) -> Response:
    """Fan out at run time: one verification job per candidate of ``solve``, then a ranking job.

    The job replaces itself by that flow (``Response(replace=…)``), so its output becomes the
    ranking's :class:`~.schemas.SolutionDocument`. The new jobs carry the candidates' values
    (densities included) in their descriptions, since a FireWorks replacement may not refer
    to jobs outside it: fine for small grids; :class:`~.flows.SolveVerifyMaker` fans out when
    the flow is built instead (``fan_out="static"``, the default), through references.
    """
    maker = verify_maker or VerifyMaker()
    jobs = []
    for cand in solve.candidates:
        verify = maker.make(cand, solve.input_vector, solve.covered)
        verify.name = f"{maker.name} candidate {cand.rank}"
        jobs.append(verify)
    rank = rank_candidates(solve, [j.output for j in jobs])
    rank.name = "rank candidates"
    return Response(replace=Flow([*jobs, rank], output=rank.output, name="verify and rank"))
