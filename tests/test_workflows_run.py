"""The flow runners refuse, before running anything, a JobStore without the ``data`` store."""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Lattice

pytest.importorskip("jobflow")

from jobflow import JobStore
from maggma.stores import MemoryStore

from pymatgen_crystalnet.workflows.run import checked_job_store, job_store, run_workflow_locally
from pymatgen_crystalnet.workflows.schemas import DensityGrid
from pymatgen_crystalnet.workflows.solving_jobs import VerifyMaker


def _verify_job():
    grid = DensityGrid.from_array(np.full((8, 8, 8), 0.2, dtype=np.float32), Lattice.cubic(3.0))
    return VerifyMaker().make(grid, [1.0] * 1024)


def test_run_locally_refuses_a_store_without_data_store(tmp_path):
    with pytest.raises(ValueError, match="no 'data' additional store"):
        run_workflow_locally(_verify_job(), tmp_path / "run", store=JobStore(MemoryStore()), log=False)
    assert not (tmp_path / "run" / "jobs").exists()  # refused before any job ran


def test_run_locally_on_a_memory_store_with_data_store(tmp_path):
    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    job = _verify_job()
    report = run_workflow_locally(job, tmp_path, store=store, log=False)
    assert report.completed, report.table()
    raw = store.query_one({"uuid": job.uuid})
    assert raw["output"]["forward_vector"]["store"] == "data"  # the large field went to the data store
    doc = store.get_output(job.uuid, load=True)
    assert len(doc["forward_vector"]) == 1024


def test_checked_job_store():
    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    assert checked_job_store(store) is store
    made = checked_job_store("json:///tmp/never-connected")
    assert set(made.additional_stores) == {"data"}
    assert set(job_store("json:///tmp/never-connected").additional_stores) == {"data"}


def test_fireworks_refuses_a_store_without_data_store():
    pytest.importorskip("fireworks")
    from pymatgen_crystalnet.workflows.fireworks import flow_to_fireworks

    with pytest.raises(ValueError, match="no 'data' additional store"):
        flow_to_fireworks(_verify_job(), JobStore(MemoryStore()))
    wf = flow_to_fireworks(_verify_job(), JobStore(MemoryStore(), additional_stores={"data": MemoryStore()}))
    assert len(wf.fws) == 1

