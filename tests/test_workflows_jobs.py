"""``workflows.jobs``: flows serialised when the jobs lived there still load and run.

``tests/data/workflow_flow_pre_split.json`` is ``PipelineMaker.tiny(epochs=1)`` plus a dynamic
solve-and-verify branch on the bundled model, serialised (``MontyEncoder``) before ``jobs.py``
was split: every Maker and job function in it names ``pymatgen_crystalnet.workflows.jobs``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("jobflow")

LEGACY = Path(__file__).parent / "data" / "workflow_flow_pre_split.json"


def _legacy_flow():
    from monty.json import MontyDecoder

    return MontyDecoder().decode(LEGACY.read_text())


def test_flow_stored_before_the_split_decodes_to_the_current_classes():
    from monty.json import MontyEncoder

    from pymatgen_crystalnet.evaluation.config import EvaluationConfig
    from pymatgen_crystalnet.workflows import (
        BuildDatasetMaker,
        EvaluateMaker,
        SolveMaker,
        TrainMaker,
        VerifyMaker,
        pick_pattern,
        rank_candidates,
        verify_candidates,
    )

    assert "pymatgen_crystalnet.workflows.jobs" in LEGACY.read_text()
    flow = _legacy_flow()
    jobs = {}
    for j, _ in flow.iterflow():
        jobs.setdefault(j.name, j)
    makers = {
        "build dataset": BuildDatasetMaker, "train": TrainMaker, "evaluate": EvaluateMaker,
        "solve": SolveMaker, "verify candidate 0": VerifyMaker,
    }  # fmt: skip
    for name, cls in makers.items():
        assert type(jobs[name].maker) is cls, name
    for name, func in {"pick pattern": pick_pattern, "rank candidates": rank_candidates,
                       "verify candidates": verify_candidates}.items():  # fmt: skip
        assert jobs[name].function is func, name
    assert jobs["train"].maker.training_config.epochs == 1
    # the old EvaluateMaker(split, options) became a typed EvaluationConfig
    old = EvaluationConfig(split="test", samples=2, ablation_samples=1, grid=16, limit=8, batch_size=4)
    assert jobs["evaluate"].maker.config == old
    # written again, the flow names the new modules only
    again = json.dumps(flow, cls=MontyEncoder)
    assert "workflows.jobs" not in again and "workflows.solving_jobs" in again


def test_flow_stored_before_the_split_runs(tmp_path):
    """The dynamic solve → verify → rank branch of the stored flow runs on the bundled model."""
    from pymatgen_crystalnet.workflows.run import run_workflow_locally

    flow = _legacy_flow()
    branch = flow.jobs[1]
    assert branch.name == "solve and verify"
    report = run_workflow_locally(branch, tmp_path, log=False)
    assert report.completed, report.table()
    names = {r.name for r in report.jobs}
    assert names >= {"solve", "verify candidates", "verify candidate 0", "verify candidate 1",
                     "rank candidates"}
