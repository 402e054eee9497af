"""Trainer: the loss drops, resume equals an uninterrupted run, run folders and checkpoints."""

from __future__ import annotations

import csv
import json

import pytest
import torch
from safetensors.torch import load_file

from pymatgen_crystalnet.model.config import CrystalNetConfig
from pymatgen_crystalnet.model.weights import load_model
from pymatgen_crystalnet.training.checkpoint import CheckpointError, latest_checkpoint
from pymatgen_crystalnet.training.config import TrainingConfig
from pymatgen_crystalnet.training.synthetic import SyntheticCrystals
from pymatgen_crystalnet.training.trainer import Trainer

TINY_MODEL = {
    "latent_dim": 16,
    "xrd_layers_per_block": 2,
    "composition_layers": 2,
    "composition_hidden": 16,
    "fusion_layers": 3,
    "fusion_hidden": 32,
    "n_frequencies": 16,
    "embed_dim": 32,
    "regressor_blocks": 2,
    "regressor_layers_per_block": 2,
    "regressor_hidden": 32,
}


def tiny_configs(**train):
    model = CrystalNetConfig(**TINY_MODEL)
    defaults = {
        "epochs": 4,
        "batch_size": 8,
        "lr": 3e-3,
        "val_grid": 8,
        "val_every": 2,
        "val_batch_size": 4,
        "n_strata": 4,
    }
    return model, TrainingConfig(**{**defaults, **train})


@pytest.fixture(scope="module")
def data():
    return SyntheticCrystals(32, n_strata=4, seed=0), SyntheticCrystals(4, grid=8, seed=1)


def run(out, data, resume=False, stop_epoch=None, **train):
    model_cfg, cfg = tiny_configs(**train)
    trainer = Trainer(model_cfg, cfg, data[0], data[1], out, device="cpu", resume=resume, progress=False)
    return trainer.fit(stop_epoch=stop_epoch)


def weights_of(out):
    return load_file(latest_checkpoint(out) / "model.safetensors")


def test_twenty_steps_lower_the_loss(tmp_path, data):
    # 32 crystals / batch 8 = 4 steps per epoch, 5 epochs = 20 steps
    summary = run(tmp_path / "run", data, epochs=5, restart_cycles=[5])
    losses = [row["train_l1"] for row in summary["history"]]
    assert losses[-1] < 0.8 * losses[0], losses
    assert summary["history"][-1]["step"] == 20


def test_resume_equals_an_uninterrupted_run(tmp_path, data):
    run(tmp_path / "full", data)
    run(tmp_path / "split", data, stop_epoch=2)
    assert latest_checkpoint(tmp_path / "split").name == "epoch-000002"
    run(tmp_path / "split", data, resume=True)
    full, split = weights_of(tmp_path / "full"), weights_of(tmp_path / "split")
    assert full.keys() == split.keys()
    for key in full:
        assert torch.equal(full[key], split[key]), key
    rows_full = [json.loads(x) for x in (tmp_path / "full" / "metrics.jsonl").read_text().splitlines()]
    rows_split = [json.loads(x) for x in (tmp_path / "split" / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows_split] == [1, 2, 3, 4]
    for a, b in zip(rows_full, rows_split):
        for key in ("train_loss", "lr", "val_ssim", "val_cc", "is_best"):
            assert a.get(key) == b.get(key), key


def test_run_folder_contents(tmp_path, data):
    out = tmp_path / "run"
    summary = run(out, data, epochs=2, val_every=1, select_metric="cc")
    assert (out / "training.json").is_file()
    with open(out / "metrics.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert all(r["val_ssim"] and r["val_cc"] and r["val_nmae"] for r in rows)
    best = load_model(out / "best")
    assert best.config == CrystalNetConfig(**TINY_MODEL)
    meta = json.loads((out / "best" / "config.json").read_text())["metadata"]
    assert meta["selected_on"] == "val_cc" and meta["epoch"] == summary["best"]["epoch"]
    assert meta["data"]["source"] == "synthetic"
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == [
        "epoch-000001",
        "epoch-000002",
        "latest",
    ]
    assert not list(out.glob(".tmp-*")) and not list((out / "checkpoints").glob(".tmp-*"))


def test_existing_run_is_not_overwritten_and_tampering_is_caught(tmp_path, data):
    out = tmp_path / "run"
    run(out, data, epochs=2, stop_epoch=1)
    with pytest.raises(CheckpointError, match="resume"):
        run(out, data, epochs=2)
    opt = latest_checkpoint(out) / "optimizer.pt"
    opt.write_bytes(opt.read_bytes() + b"x")
    with pytest.raises(CheckpointError, match="SHA-256"):
        run(out, data, epochs=2, resume=True)


def test_resume_refuses_another_model(tmp_path, data):
    out = tmp_path / "run"
    run(out, data, epochs=2, stop_epoch=1)
    _, cfg = tiny_configs(epochs=2)
    other = CrystalNetConfig(**{**TINY_MODEL, "regressor_hidden": 24})
    with pytest.raises(CheckpointError, match="another model configuration"):
        Trainer(other, cfg, data[0], data[1], out, device="cpu", resume=True, progress=False)


def test_no_formula_model_trains_and_validation_contract(tmp_path, data):
    model_cfg = CrystalNetConfig(**TINY_MODEL, composition_mode="none", positional_encoding="periodic")
    _, cfg = tiny_configs(epochs=1)
    summary = Trainer(model_cfg, cfg, data[0], data[1], tmp_path / "a", device="cpu", progress=False).fit()
    assert summary["history"][0]["train_kl_composition"] == 0.0
    # validation items must hold a regular grid
    bad_val = SyntheticCrystals(2, n_strata=2, seed=1)
    trainer = Trainer(model_cfg, cfg, data[0], bad_val, tmp_path / "b", device="cpu", progress=False)
    with pytest.raises(ValueError, match="grid"):
        trainer.validate()


def test_bf16_autocast_path_on_cpu(tmp_path, data):
    summary = run(tmp_path / "run", data, epochs=1, amp="bf16")
    row = summary["history"][0]
    assert all(torch.isfinite(torch.tensor(row[k])) for k in ("train_loss", "val_ssim", "val_cc"))


@pytest.mark.slow
def test_torch_compile_trains(tmp_path, data):
    summary = run(tmp_path / "run", data, epochs=1, compile=True)
    assert torch.isfinite(torch.tensor(summary["history"][0]["train_loss"]))
