"""``crystalnet workflow``: run-local on the test corpus, report, and the pieces around the flows."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

pytest.importorskip("jobflow")

from pymatgen_crystalnet.cli.workflow import workflow
from test_workflows_checks import CORPUS, stored_output


def test_run_local_and_report(tmp_path):
    out = tmp_path / "run"
    args = ["run-local", "--source", str(CORPUS), "--out", str(out), "--epochs", "1", "--no-evaluate",
            "--candidates", "2", "--grid", "12", "--threads", "1"]  # fmt: skip
    result = CliRunner().invoke(workflow, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "7 of 7 jobs completed; 0 failed." in result.output
    assert "dataset: 12 crystals" in result.output and "training: 1 epochs on cpu" in result.output
    assert "solution of" in result.output
    saved = json.loads((out / "report.json").read_text())
    assert {j["state"] for j in saved["jobs"]} == {"completed"}
    result = CliRunner().invoke(workflow, ["report", str(out)], catch_exceptions=False)
    assert result.exit_code == 0 and "rank candidates" in result.output and "best candidate" in result.output
    # the stored solve really used 2 candidates on a 12³ grid
    from pymatgen_crystalnet.workflows.run import job_store

    solve = stored_output(job_store(out / "jobstore"), "solve")
    assert len(solve.candidates) == 2 and solve.candidates[0].density_grid.n == 12


def test_cli_errors(tmp_path):
    missing = str(tmp_path / "nope.jsonl")
    r = CliRunner().invoke(workflow, ["run-local", "--source", missing, "--out", str(tmp_path)])
    assert r.exit_code != 0 and "does not exist" in r.output
    r = CliRunner().invoke(workflow, ["report", str(tmp_path)])
    assert r.exit_code != 0 and "no report.json" in r.output


def test_help_does_not_import_jobflow_or_torch():
    code = (
        "import sys; from click.testing import CliRunner; "
        "from pymatgen_crystalnet.cli.workflow import workflow; "
        "r = CliRunner().invoke(workflow, ['run-local', '--help']); assert r.exit_code == 0, r.output; "
        "assert 'torch' not in sys.modules and 'jobflow' not in sys.modules; "
        "import pymatgen_crystalnet.workflows as w; assert 'jobflow' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_makers_serialise_and_categories():
    """Makers round-trip through JSON (as FireWorks stores them); categories route GPU jobs."""
    from monty.json import MontyDecoder, MontyEncoder

    from pymatgen_crystalnet.workflows.flows import PipelineMaker
    from pymatgen_crystalnet.workflows.job_decorator import GPU_CATEGORY, set_category
    from pymatgen_crystalnet.workflows.training_jobs import TrainMaker

    maker = PipelineMaker.tiny(epochs=2)
    again = MontyDecoder().decode(json.dumps(maker, cls=MontyEncoder))
    assert again == maker and again.train_evaluate.train_maker.training_config.epochs == 2
    flow = maker.make(str(CORPUS))
    cats = {j.name: j.config.manager_config.get("_category") for j, _ in flow.iterflow()}
    assert cats["train"] == GPU_CATEGORY and cats["evaluate"] == GPU_CATEGORY
    assert cats["build dataset"] is None and cats["solve"] is None
    set_category(flow, "big-gpu", name_filter="train")
    set_category(flow, None, name_filter="evaluate")
    cats = {j.name: j.config.manager_config.get("_category") for j, _ in flow.iterflow()}
    assert cats["train"] == "big-gpu" and cats["evaluate"] is None
    with pytest.raises(ValueError, match="launcher"):
        TrainMaker(launcher="mpirun")


def test_dynamic_fan_out(tmp_path):
    """SolveVerifyMaker(fan_out='dynamic'): one job replaces itself by a verification per candidate."""
    from jobflow import Flow

    from pymatgen_crystalnet.workflows.dataset_jobs import BuildDatasetMaker, pick_pattern
    from pymatgen_crystalnet.workflows.flows import SolveVerifyMaker
    from pymatgen_crystalnet.workflows.run import job_store, run_workflow_locally
    from pymatgen_crystalnet.workflows.solving_jobs import SolveMaker
    from pymatgen_crystalnet.workflows.training_jobs import TrainMaker

    build = BuildDatasetMaker(limit=None).make(str(CORPUS))
    training = {"batch_size": 4, "val_grid": 8, "n_strata": 4}
    train = TrainMaker.from_preset("small", epochs=1, training=training, threads=1).make(build.output)
    pick = pick_pattern(build.output)
    sv = SolveVerifyMaker(solve_maker=SolveMaker(n_candidates=2, grid=10), fan_out="dynamic")
    flow = Flow([build, train, pick, sv.make(train.output, pick.output)])
    report = run_workflow_locally(flow, tmp_path, log=False)
    assert report.completed, report.table()
    names = sorted(j.name for j in report.jobs)
    assert names.count("verify candidate 0") == 1 and names.count("verify candidate 1") == 1
    store = job_store(tmp_path / "jobstore")
    solution = stored_output(store, "rank candidates")
    assert [r["rank"] for r in solution.ranking] == [0, 1]
    # the fan-out job's final output (index 2) resolves to the same solution
    store.connect()
    fan = store.query_one({"name": "verify candidates"})
    from monty.json import MontyDecoder

    resolved = MontyDecoder().process_decoded(store.get_output(fan["uuid"], which="last", load=True))
    assert resolved.best_sample == solution.best_sample and fan["index"] == 1


def test_train_under_torchrun(tmp_path):
    """TrainMaker(launcher='torchrun'): two DDP processes (gloo on CPU) through torch.distributed.run."""
    from jobflow import run_locally

    from pymatgen_crystalnet.workflows.dataset_jobs import BuildDatasetMaker
    from pymatgen_crystalnet.workflows.run import job_store
    from pymatgen_crystalnet.workflows.training_jobs import TrainMaker

    store = job_store(tmp_path / "js")
    build = BuildDatasetMaker().make(str(CORPUS), export=str(tmp_path / "ct.npz"))
    training = {"batch_size": 4, "val_grid": 8, "n_strata": 4}
    maker = TrainMaker.from_preset("small", epochs=1, training=training, threads=1, launcher="torchrun",
                                   nproc_per_node=2, device="cpu")  # fmt: skip
    train = maker.make(build.output, run_dir=str(tmp_path / "run"))
    from jobflow import Flow

    run_locally(Flow([build, train]), store=store, log=False, root_dir=tmp_path, ensure_success=True)
    doc = stored_output(store, "train")
    assert doc.launcher == "torchrun" and doc.world_size == 2 and doc.epochs == 1
    assert (tmp_path / "run" / "torchrun.log").is_file()
    assert (tmp_path / "run" / "best" / "model.safetensors").is_file()


def test_set_reaches_the_pipeline_configs(tmp_path, monkeypatch):
    from pymatgen_crystalnet.workflows.flows import PipelineMaker

    seen = {}

    def fake_make(self, source, **kwargs):
        seen["maker"] = self
        raise SystemExit(3)

    monkeypatch.setattr(PipelineMaker, "make", fake_make)
    args = ["run-local", "--source", str(CORPUS), "--out", str(tmp_path / "run"), "--epochs", "2",
            "--set", "training.batch_size=8", "--set", "latent_dim=32", "--set", "build.symprec=0.05",
            "--set", "split.salt=other"]  # fmt: skip
    r = CliRunner().invoke(workflow, args)
    assert r.exit_code == 3, r.output
    te = seen["maker"].train_evaluate
    training = te.train_maker.training_config
    assert (training.epochs, training.batch_size) == (2, 8)
    assert te.train_maker.network_config.latent_dim == 32
    assert te.build_maker.build_config.symprec == 0.05 and te.build_maker.split_config.salt == "other"
    assert te.build_maker.limit == 120  # untouched options keep PipelineMaker.tiny's defaults
    r = CliRunner().invoke(workflow, [*args[:5], "--set", "bogus=1"])
    assert r.exit_code == 2 and "Unknown setting 'bogus'; valid keys: model.KEY with KEY in" in r.output
    assert "build.KEY with KEY in b_factor" in r.output
