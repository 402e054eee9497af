"""Solving jobs: the device convention, the weights check, and the ranking of verified candidates."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

pytest.importorskip("jobflow")

from pymatgen_crystalnet.hashing import sha256_file
from pymatgen_crystalnet.workflows.provenance import make_provenance
from pymatgen_crystalnet.workflows.schemas import (
    CandidateDocument,
    DensityGrid,
    SolutionDocument,
    SolveDocument,
    TrainingRunDocument,
    VerificationDocument,
)
from pymatgen_crystalnet.workflows.solving_jobs import SolveMaker, rank_candidates


@pytest.fixture(scope="module")
def nacl_vector() -> list[float]:
    from pymatgen_crystalnet.featurize.xrd_vector import xrd_vector

    nacl = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    return xrd_vector(nacl).tolist()


def _solve(maker: SolveMaker, model, vector) -> SolveDocument:
    """Run the job's body here (no JobStore), so that its exceptions reach the test."""
    return SolveMaker.make.original(maker, model, vector, composition="NaCl", lattice=5.64)


def test_solve_on_auto_device_with_the_bundled_model(nacl_vector):
    from pymatgen_crystalnet.model.pretrained import pretrained_path

    doc = _solve(SolveMaker(n_candidates=2, grid=8), None, nacl_vector)
    assert SolveMaker().device == "auto"
    assert doc.model["weights_sha256"] == sha256_file(pretrained_path(None) / "model.safetensors")
    assert [c.rank for c in doc.candidates] == [0, 1] and doc.candidates[0].density_grid.n == 8
    assert doc.provenance.maker["device"] == "auto"
    # the solve carries the crystal structures (pymatgen dicts), and each candidate its own or why not
    from monty.json import MontyDecoder, jsanitize
    from pymatgen.analysis.structure_matcher import StructureMatcher

    nacl = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    assert doc.structures and StructureMatcher().fit(doc.structures[0].to_structure(), nacl)
    assert doc.structures[0].space_group == "Fm-3m" and doc.structures[0].rwp is not None
    assert all((c.structure is None) != (c.structure_reason is None) for c in doc.candidates)
    assert doc.structure_info["timings"]["total"] > 0 and doc.wavelength == pytest.approx(0.71073, abs=1e-4)
    # jobflow decodes stored documents recursively: the Structure objects become dicts again
    decoded = MontyDecoder().process_decoded(jsanitize(doc, strict=True, enum_values=True))
    assert decoded.structures[0].structure == doc.structures[0].structure


def test_solve_refuses_absent_and_unknown_devices(nacl_vector):
    import torch

    with pytest.raises(ValueError, match="Unknown device"):
        _solve(SolveMaker(n_candidates=1, grid=8, device="quantum"), None, nacl_vector)
    if torch.cuda.is_available():
        return
    with pytest.raises(ValueError, match="CUDA is not available"):
        _solve(SolveMaker(n_candidates=1, grid=8, device="cuda"), None, nacl_vector)


def test_solve_refuses_weights_changed_since_training(nacl_vector, tmp_path):
    from pymatgen_crystalnet.model.pretrained import pretrained_path

    folder = shutil.copytree(pretrained_path(None), tmp_path / "best")
    training = TrainingRunDocument(
        run_dir=str(tmp_path), checkpoint_dir=str(folder),
        weights_sha256=sha256_file(folder / "model.safetensors"), device="cpu", wall_time_s=1.0, epochs=1,
        n_parameters=1, provenance=make_provenance(None),
    )  # fmt: skip
    doc = _solve(SolveMaker(n_candidates=1, grid=8), training, nacl_vector)
    assert doc.model["checkpoint_dir"] == str(folder)
    raw = bytearray((folder / "model.safetensors").read_bytes())
    raw[-1] ^= 0xFF
    (folder / "model.safetensors").write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="changed since training"):
        _solve(SolveMaker(n_candidates=1, grid=8), training, nacl_vector)


def _candidate(rank: int, sample: int) -> CandidateDocument:
    grid = np.full((4, 4, 4), 0.1 * (sample + 1), dtype=np.float32)
    return CandidateDocument(rank=rank, sample=sample, cosine=0.5, rwp=0.5, electrons=1.0, density_max=1.0,
                             density_grid=DensityGrid.from_array(grid, Lattice.cubic(3.0)))  # fmt: skip


def _verification(sample: int, cosine: float, rwp: float) -> VerificationDocument:
    return VerificationDocument(
        sample=sample, cosine=cosine, rwp=rwp, compared_bins=10, electrons=1.0, forward_vector=[0.0],
        wall_time_s=0.0, provenance=make_provenance(None),
    )  # fmt: skip


def test_rank_candidates_orders_by_cosine_then_rwp():
    solve = SolveDocument(
        model={"name": "m"}, pattern={"material_id": "mp-1"}, composition_mode="full",
        lattice=Lattice.cubic(3.0).matrix.tolist(), lattice_source="given", input_vector=[0.0],
        covered=[True], n_candidates=3, grid=4,
        candidates=[_candidate(0, 7), _candidate(1, 3), _candidate(2, 5)], wall_time_s=0.0,
        provenance=make_provenance(None),
    )  # fmt: skip
    checks = [_verification(7, 0.80, 0.30), _verification(3, 0.90, 0.40), _verification(5, 0.90, 0.20)]
    solution = rank_candidates.original(solve, checks)
    assert isinstance(solution, SolutionDocument)
    assert [r["sample"] for r in solution.ranking] == [5, 3, 7]  # equal cosines: lower Rwp first
    assert [r["solver_rank"] for r in solution.ranking] == [2, 1, 0]
    assert solution.best_sample == 5 and solution.best_rwp == 0.20 and not solution.agrees_with_solver
    assert solution.density_grid.sha256 == solve.candidates[2].density_grid.sha256
    assert solution.pattern == {"material_id": "mp-1"}
