"""The tiny pipeline with run_locally on an on-disk JobStore (montydb), checked document by document."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("jobflow")

from pymatgen_crystalnet.workflows.run import job_store, run_workflow_locally
from test_workflows_checks import check_pipeline_outputs, stored_output, tiny_pipeline


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("local")
    flow = tiny_pipeline()
    report = run_workflow_locally(flow, root, log=False)
    return root, report


def test_local_run_stores_documents(local_run):
    root, report = local_run
    store = job_store(root / "jobstore")
    check_pipeline_outputs(store, report)
    # the store is on disk: a new process would read the same documents
    assert (root / "jobstore").is_dir() and any((root / "jobstore").iterdir())
    saved = json.loads((root / "report.json").read_text())
    assert saved["manager"] == "local" and len(saved["jobs"]) == len(report.jobs)
    assert report.store.startswith("EmbeddedStore:")


def test_local_rerun_of_train_job_resumes(local_run, tmp_path):
    """A TrainMaker job given an existing run folder continues it (FireWorks reruns do this).

    With ``store_weights`` the weights travel in the document, and a solve job on a machine
    without the run folder uses them.
    """
    from jobflow import run_locally

    from pymatgen_crystalnet.workflows.solving_jobs import SolveMaker
    from pymatgen_crystalnet.workflows.training_jobs import TrainMaker

    root, _ = local_run
    store = job_store(root / "jobstore")
    store.connect()
    dataset = stored_output(store, "build dataset")
    training = stored_output(store, "train")
    maker = TrainMaker.from_preset(
        "small", epochs=3, training={"batch_size": 4, "val_every": 1, "val_grid": 16,
                                     "val_max_crystals": 8, "n_strata": 6},
        threads=1, store_weights=True)  # fmt: skip
    job = maker.make(dataset, run_dir=training.run_dir)
    responses = run_locally(job, store=job_store(tmp_path / "js"), log=False, root_dir=tmp_path)
    doc = responses[job.uuid][1].output
    assert doc.epochs == 3 and [r["epoch"] for r in doc.training_history] == [1, 2, 3]
    assert doc.training_history[:2] == training.training_history
    blob = doc.weights_blob
    assert blob is not None and blob.sha256 == doc.weights_sha256
    # the solver can run from the stored weights alone
    moved = doc.model_copy(update={"checkpoint_dir": str(tmp_path / "elsewhere" / "best")})
    solve = SolveMaker(n_candidates=1, grid=8).make(moved, stored_output(store, "pick pattern"))
    out = run_locally(solve, store=job_store(tmp_path / "js"), log=False, root_dir=tmp_path,
                      ensure_success=True)
    result = out[solve.uuid][1].output
    assert result.model["weights_sha256"] == doc.weights_sha256
    assert result.model["checkpoint_dir"] == str(tmp_path / "weights")
