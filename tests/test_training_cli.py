"""``crystalnet train``: synthetic smoke run, resume, overrides, errors, a real export."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from pymatgen_crystalnet.cli.train import train
from pymatgen_crystalnet.model.weights import load_model

TINY = [
    "--set", "training.batch_size=8", "--set", "val_grid=8", "--set", "latent_dim=16",
    "--set", "embed_dim=16", "--set", "fusion_hidden=32", "--set", "regressor_hidden=16",
    "--set", "n_strata=3", "--no-progress", "--threads", "2",
]  # fmt: skip


def invoke(*args):
    result = CliRunner().invoke(train, list(args), catch_exceptions=False)
    return result


def test_train_synthetic_then_resume(tmp_path):
    out = tmp_path / "run"
    r = invoke("--data", "synthetic:16", "--out", str(out), "--epochs", "1", *TINY)
    assert r.exit_code == 0, r.output
    assert "Trained 1 epochs" in r.output
    record = json.loads((out / "training.json").read_text())
    assert record["model_config"]["latent_dim"] == 16 and record["training_config"]["epochs"] == 1
    # again without --resume: refused; with --resume: takes the run's own settings, 2 epochs
    r = invoke("--data", "synthetic:16", "--out", str(out), "--epochs", "2", "--no-progress")
    assert r.exit_code != 0 and "--resume" in r.output
    r = invoke("--data", "synthetic:16", "--out", str(out), "--epochs", "2", "--resume", "--no-progress")
    assert r.exit_code == 0, r.output
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 2
    assert load_model(out / "best").config.latent_dim == 16


def test_config_file_and_bad_settings(tmp_path):
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"model": {"positional_encoding": "periodic"}, "training": {"epochs": 1}}))
    out = tmp_path / "run"
    r = invoke("--data", "synthetic:16", "--out", str(out), "--config", str(cfg), *TINY)
    assert r.exit_code == 0, r.output
    assert load_model(out / "best").config.positional_encoding == "periodic"
    for bad, message in (
        (["--set", "bogus=1"], "Unknown setting"),
        (["--set", "latent_dim"], "KEY=VALUE"),
        (["--set", "preset=x"], "ambiguous"),
        (["--set", "model.positional_encoding=fourier"], "positional_encoding"),
    ):
        r = invoke("--data", "synthetic:16", "--out", str(tmp_path / "x"), *bad)
        assert r.exit_code != 0 and message in r.output, r.output
    r = invoke("--data", str(tmp_path / "missing.npz"), "--out", str(tmp_path / "y"))
    assert r.exit_code != 0 and "neither an export file" in r.output


def test_set_names_the_valid_keys_and_devices_fail_cleanly(tmp_path):
    r = invoke("--data", "synthetic:16", "--out", str(tmp_path / "x"), "--set", "latentdim=3")
    assert r.exit_code == 2 and "Invalid value for --set: Unknown setting 'latentdim'" in r.output
    assert "model.KEY with KEY in" in r.output and "latent_dim" in r.output and "batch_size" in r.output
    r = invoke("--data", "synthetic:16", "--out", str(tmp_path / "x"), "--set", "training.epochs=many")
    assert r.exit_code == 2 and "TrainingConfig.epochs: expected an integer" in r.output


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="needs a machine without CUDA")
def test_absent_device_is_a_clean_error(tmp_path):
    args = ["--data", "synthetic:16", "--out", str(tmp_path / "x"), "--device", "cuda", *TINY]
    r = CliRunner().invoke(train, args)
    assert r.exit_code == 1 and isinstance(r.exception, SystemExit)
    assert "Error: Device 'cuda' was asked for, but CUDA is not available here" in r.output
    assert "Traceback" not in r.output and not (tmp_path / "x").exists()


def test_help_does_not_import_torch():
    code = (
        "import sys; from click.testing import CliRunner; "
        "from pymatgen_crystalnet.cli.train import train; "
        "r = CliRunner().invoke(train, ['--help']); assert r.exit_code == 0, r.output; "
        "assert 'torch' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_train_on_an_export(tmp_path):
    pytest.importorskip("pymatgen_crystalnet.data.export")
    from pymatgen_crystalnet.data.config import BuildConfig
    from pymatgen_crystalnet.data.export import export_dataset
    from pymatgen_crystalnet.data.pipeline import build_dataset

    corpus = Path(__file__).parent / "data" / "mini_corpus.jsonl.gz"
    build_dataset(
        corpus, tmp_path / "db", config=BuildConfig(crystal_systems=["cubic", "trigonal"]), progress=False
    )
    export_dataset(tmp_path / "db", tmp_path / "ct.npz")
    out = tmp_path / "run"
    r = invoke(
        "--data", str(tmp_path / "ct.npz"), "--out", str(out), "--epochs", "1",
        "--set", "training.batch_size=3", "--set", "val_grid=8", "--set", "n_strata=3", "--no-progress",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    row = json.loads((out / "metrics.jsonl").read_text())
    assert row["val_crystals"] >= 1 and 0 < row["val_ssim"] <= 1
    data = json.loads((out / "training.json").read_text())["data"]
    assert data["source"] == "export" and data["n_train"] >= 3 and data["b_factor"] == 1.0
    meta = json.loads((out / "best" / "config.json").read_text())["metadata"]
    assert meta["cell"] == "primitive" and meta["b_factor"] == 1.0 and meta["density_source"] == "iam"
