"""Assertions on the stored documents of the tiny pipeline, shared by the local and FireWorks tests."""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import numpy as np

from pymatgen_crystalnet.workflows.schemas import (
    DatasetDocument,
    EvaluationDocument,
    SolutionDocument,
    SolveDocument,
    TrainingRunDocument,
    VerificationDocument,
)

CORPUS = Path(__file__).parent / "data" / "mini_corpus.jsonl.gz"
#: The evaluation protocol lives in pymatgen_crystalnet.evaluation.protocol (its own work item);
#: the pipeline includes the evaluation job whenever that module is part of the package.
HAS_PROTOCOL = importlib.util.find_spec("pymatgen_crystalnet.evaluation.protocol") is not None


def tiny_pipeline(epochs: int = 2):
    """The tiny pipeline on the test corpus, plus a second solve branch that must fail."""
    from jobflow import Flow

    from pymatgen_crystalnet.workflows.flows import PipelineMaker, SolveVerifyMaker
    from pymatgen_crystalnet.workflows.solving_jobs import SolveMaker

    tiny = PipelineMaker.tiny(epochs=epochs, limit=None, evaluate=HAS_PROTOCOL, threads=1)
    pipeline = tiny.make(str(CORPUS))
    training = pipeline.output["training"]
    # a branch that fails: an all-zero pattern is refused by the solver
    bad = SolveVerifyMaker(name="bad branch", solve_maker=SolveMaker(name="solve empty pattern", grid=8,
                                                                     n_candidates=2))
    bad_flow = bad.make(training, [0.0] * 1024, composition="NaCl", lattice=5.64)
    return Flow([pipeline, bad_flow], name="test pipeline")


def stored_output(store, name: str):
    """Loaded output (blobs included) of the one job called ``name``."""
    store.connect()
    docs = list(store.query({"name": name}, properties=["uuid", "index"]))
    assert len(docs) == 1, f"expected one {name!r} job in the store, found {len(docs)}"
    from monty.json import MontyDecoder

    return MontyDecoder().process_decoded(store.get_output(docs[0]["uuid"], which="last", load=True))


def check_pipeline_outputs(store, report) -> None:
    """What the tiny pipeline must have stored, and how the failing branch is reported."""
    store.connect()
    # -- the report: the bad branch failed with the solver's error, its child did not run
    failed = report.failed
    assert [r.name for r in failed] == ["solve empty pattern"], report.table()
    # the solver's PatternInputError (a ValueError) names the problem
    assert "PatternInputError" in failed[0].error and "not all zero" in failed[0].error, failed[0].error
    assert "Traceback" in failed[0].traceback or "Error" in failed[0].traceback
    # the failed solve's children did not run; nothing else is left over
    not_done = sorted(r.name for r in report.jobs if r.state not in ("completed", "failed"))
    assert not_done == ["rank candidates", "verify candidate 0", "verify candidate 1"], report.table()
    names = {r.name for r in report.jobs if r.state == "completed"}
    expected = ["build dataset", "train", "pick pattern", "solve", "rank candidates",
                "verify candidate 0", "verify candidate 1", "verify candidate 2"]
    if HAS_PROTOCOL:
        expected.append("evaluate")
    for name in expected:
        assert name in names, (name, report.table())

    # -- dataset: export on disk with the recorded hash, ids and counts agree
    dataset = stored_output(store, "build dataset")
    assert isinstance(dataset, DatasetDocument)
    export = Path(dataset.export_path)
    assert export.is_file()
    assert hashlib.sha256(export.read_bytes()).hexdigest() == dataset.export_sha256
    assert dataset.n_crystals == sum(len(v) for v in dataset.material_ids.values()) > 0
    assert dataset.counts == {"cubic": {"test": 5, "train": 4}, "trigonal": {"train": 2, "val": 1}}
    assert dataset.provenance.inputs["source_sha256"] == hashlib.sha256(CORPUS.read_bytes()).hexdigest()
    assert dataset.provenance.maker["build_config"]["crystal_systems"] == ["cubic", "trigonal"]

    # -- training: weights and checkpoint with their hashes, device and time recorded
    training = stored_output(store, "train")
    assert isinstance(training, TrainingRunDocument)
    weights = Path(training.checkpoint_dir) / "model.safetensors"
    assert hashlib.sha256(weights.read_bytes()).hexdigest() == training.weights_sha256
    assert training.weights_blob is None  # paths + hashes by default (TrainMaker.store_weights)
    assert training.epochs == 2 and len(training.training_history) == 2
    assert training.device == "cpu" and training.world_size == 1 and training.wall_time_s > 0
    assert training.data["sha256"] == dataset.export_sha256
    assert training.best is not None and 0 < training.best["value"] <= 1
    assert training.last_checkpoint and Path(training.last_checkpoint).is_dir()
    assert training.provenance.package_version and "torch" in training.provenance.versions

    # -- evaluation: the protocol's tables on the 5 test crystals of this dataset and model
    if HAS_PROTOCOL:
        evaluation = stored_output(store, "evaluate")
        assert isinstance(evaluation, EvaluationDocument)
        assert evaluation.split == "test" and evaluation.n_crystals == 5
        assert evaluation.weights_sha256 == training.weights_sha256
        assert evaluation.export_sha256 == dataset.export_sha256
        assert {r["material_id"] for r in evaluation.per_crystal} == set(dataset.material_ids["test"])
        for method in ("model", "flat", "control"):
            stats = evaluation.summary["all"][method]["all"]
            assert stats["n"] == 5 and -1 <= stats["cc"]["mean"] <= 1 and stats["nmae"]["mean"] >= 0
        assert all(Path(f).is_file() for f in evaluation.report_files) and len(evaluation.report_files) == 2
        raw_eval = store.query_one({"name": "evaluate"})
        assert "blob_uuid" in raw_eval["output"]["per_crystal"]  # per-crystal rows in the data store

    # -- solve: candidates with densities in the data store, on the picked crystal's cell
    pattern = stored_output(store, "pick pattern")
    solve = stored_output(store, "solve")
    assert isinstance(solve, SolveDocument)
    assert solve.model["weights_sha256"] == training.weights_sha256
    assert solve.pattern["material_id"] == pattern.material_id
    assert pattern.material_id in dataset.material_ids[pattern.split]
    assert len(solve.candidates) == 3
    for cand in solve.candidates:
        grid = cand.density_grid.array()
        assert grid.shape == (24, 24, 24) and np.all(np.isfinite(grid))
        assert hashlib.sha256(grid.tobytes()).hexdigest() == cand.density_grid.sha256
    np.testing.assert_allclose(solve.lattice, pattern.lattice)

    # -- the large fields are in the data store, not in the docs store
    raw = store.query_one({"name": "solve"})
    blob_ref = raw["output"]["candidates"][0]["density_grid"]
    assert set(blob_ref) >= {"blob_uuid", "store"} and blob_ref["store"] == "data"
    assert store.additional_stores["data"].count({"blob_uuid": blob_ref["blob_uuid"]}) == 1

    # -- verification agrees with the solver's own check; the ranking is consistent
    verifications = {}
    for cand in solve.candidates:
        v = stored_output(store, f"verify candidate {cand.rank}")
        assert isinstance(v, VerificationDocument)
        assert abs(v.cosine - cand.cosine) < 1e-6 and abs(v.rwp - cand.rwp) < 1e-6
        verifications[cand.sample] = v
    solution = stored_output(store, "rank candidates")
    assert isinstance(solution, SolutionDocument)
    cosines = [r["cosine"] for r in solution.ranking]
    assert cosines == sorted(cosines, reverse=True)
    assert solution.best_cosine == max(v.cosine for v in verifications.values())
    assert solution.agrees_with_solver
    best = next(c for c in solve.candidates if c.sample == solution.best_sample)
    assert solution.density_grid.sha256 == best.density_grid.sha256
