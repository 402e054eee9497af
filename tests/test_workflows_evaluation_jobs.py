"""``EvaluateMaker``: a typed ``EvaluationConfig`` that survives serialisation, and the job it makes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("jobflow")

from pymatgen_crystalnet.evaluation.config import EvaluationConfig
from pymatgen_crystalnet.workflows.evaluation_jobs import EvaluateMaker
from pymatgen_crystalnet.workflows.schemas import EvaluationDocument

CORPUS = Path(__file__).parent / "data" / "mini_corpus.jsonl.gz"
TINY = {"latent_dim": 16, "embed_dim": 16, "fusion_hidden": 32, "regressor_hidden": 16, "nonnegative": False}
QUICK = {"grid": 12, "samples": 1, "ablation_samples": 1, "limit": 2, "batch_size": 2, "ablations": False,
         "translation": False}  # fmt: skip


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> Path:
    """An export of the mini corpus' cubic and trigonal crystals (5 cubic test crystals)."""
    from pymatgen_crystalnet.data.config import BuildConfig
    from pymatgen_crystalnet.data.export import export_dataset
    from pymatgen_crystalnet.data.pipeline import build_dataset

    root = tmp_path_factory.mktemp("export")
    config = BuildConfig(crystal_systems=["cubic", "trigonal"])
    build_dataset(CORPUS, root / "db", config=config, progress=False)
    export_dataset(root / "db", root / "ct.npz")
    return root / "ct.npz"


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory, export) -> Path:
    """A randomly initialised tiny model saved with the export's settings as metadata."""
    import torch

    from pymatgen_crystalnet.data.reader import load_export
    from pymatgen_crystalnet.model.crystalnet import CrystalNet
    from pymatgen_crystalnet.model.weights import save_model

    torch.manual_seed(0)
    manifest = load_export(export).manifest
    meta = {k: manifest[k] for k in ("cell", "b_factor", "wavelength")}
    meta.update(composition_mode="full", density_source="iam")
    return save_model(CrystalNet.from_preset("small", **TINY), tmp_path_factory.mktemp("model") / "tiny",
                      metadata=meta)  # fmt: skip


def test_evaluate_maker_round_trips_and_runs(export, tiny_model, tmp_path):
    from jobflow import JobStore, run_locally
    from maggma.stores import MemoryStore
    from monty.json import MontyDecoder, MontyEncoder

    maker = EvaluateMaker(config=EvaluationConfig(**QUICK), device="auto")
    as_dict = maker.as_dict()
    assert as_dict["config"]["@class"] == "EvaluationConfig" and as_dict["config"]["grid"] == 12
    again = EvaluateMaker.from_dict(as_dict)
    assert again == maker and isinstance(again.config, EvaluationConfig)
    assert MontyDecoder().decode(json.dumps(maker, cls=MontyEncoder)) == maker

    job = again.make(str(tiny_model), str(export))
    store = JobStore(MemoryStore(), additional_stores={"data": MemoryStore()})
    out = run_locally(job, store=store, root_dir=tmp_path, log=False, ensure_success=True)
    doc = out[job.uuid][1].output
    assert isinstance(doc, EvaluationDocument)
    assert doc.split == "test" and doc.n_crystals == 2 and len(doc.per_crystal) == 2
    expected = {k: v for k, v in EvaluationConfig(**QUICK).as_dict().items() if not k.startswith("@")}
    assert doc.report["config"] == expected
    assert doc.report["device"] == "cpu" and doc.provenance.maker["config"]["samples"] == 1
    methods = doc.summary["all"]
    assert "model" in methods and "ablation:none" not in methods and "model_translation" not in methods
    assert len(doc.report_files) == 2 and all(Path(f).is_file() for f in doc.report_files)


def test_evaluate_maker_reads_the_form_stored_before_the_config():
    """A maker serialised as ``split`` + ``options`` (before EvaluationConfig) loads as a config."""
    old = {"@module": "pymatgen_crystalnet.workflows.jobs", "@class": "EvaluateMaker", "name": "evaluate",
           "split": "val", "options": {"grid": 16, "samples": 2}, "device": None, "write_report": False}
    maker = EvaluateMaker.from_dict(old)
    assert maker.config == EvaluationConfig(split="val", grid=16, samples=2) and not maker.write_report
    with pytest.raises(TypeError, match="unexpected keyword"):
        EvaluateMaker.from_dict({**old, "options": {"gird": 16}})


def test_evaluate_maker_config_checks():
    assert EvaluateMaker().config == EvaluationConfig()  # the paper's protocol on the test split
    assert EvaluateMaker(config={"grid": 16, "split": "val"}).config == EvaluationConfig(grid=16, split="val")
    with pytest.raises(TypeError, match="EvaluationConfig"):
        EvaluateMaker(config=16)
    with pytest.raises(ValueError, match="split"):
        EvaluateMaker(config=EvaluationConfig(split="tset"))


def test_evaluate_job_refuses_an_absent_device(export, tiny_model):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    maker = EvaluateMaker(config=EvaluationConfig(**QUICK), device="cuda")
    with pytest.raises(ValueError, match="CUDA is not available"):
        EvaluateMaker.make.original(maker, str(tiny_model), str(export))
