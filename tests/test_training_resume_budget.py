"""Exact resume across separate runs on the prepared-batch path, and the wall-time budget."""

from __future__ import annotations

import itertools
import json
import random

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from pymatgen_crystalnet.model.config import CrystalNetConfig
from pymatgen_crystalnet.training.checkpoint import latest_checkpoint
from pymatgen_crystalnet.training.config import TrainingConfig
from pymatgen_crystalnet.training.data import open_datasets
from pymatgen_crystalnet.training.trainer import Trainer

TINY_MODEL = {
    "latent_dim": 8,
    "xrd_layers_per_block": 2,
    "composition_layers": 2,
    "composition_hidden": 16,
    "fusion_layers": 2,
    "fusion_hidden": 16,
    "n_frequencies": 8,
    "embed_dim": 16,
    "regressor_blocks": 2,
    "regressor_layers_per_block": 1,
    "regressor_hidden": 16,
}
TRAINING = {
    "epochs": 3,
    "batch_size": 3,
    "n_strata": 3,
    "point_grid": 12,
    "val_grid": 8,
    "val_every": 2,
    "val_batch_size": 2,
    "lr": 3e-3,
    "restart_cycles": [1, 2],
}
KEYS = ("train_loss", "train_l1", "train_kl_xrd", "lr", "step", "val_cc", "val_control_cc", "val_xrd_sigma")


@pytest.fixture(scope="module")
def export(eval_export, tmp_path_factory):
    # a private copy: the bank cache is written beside the export
    path = tmp_path_factory.mktemp("resume") / "ct.npz"
    path.write_bytes(eval_export.read_bytes())
    return path


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def trainer(out, export, resume=False, **train):
    model_cfg = CrystalNetConfig(**TINY_MODEL)
    cfg = TrainingConfig(**{**TRAINING, **train})
    train_set, val_set, desc = open_datasets(str(export), model_cfg, cfg)
    return Trainer(model_cfg, cfg, train_set, val_set, out, device="cpu", resume=resume, progress=False,
                   data_description=desc)


def history(out):
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def scramble_global_rngs(seed):
    """What another process would start with."""
    torch.manual_seed(seed)
    np.random.seed(seed)  # noqa: NPY002 (the global generator is the point)
    random.seed(seed)


def assert_same_weights(a, b):
    wa = load_file(latest_checkpoint(a) / "model.safetensors")
    wb = load_file(latest_checkpoint(b) / "model.safetensors")
    assert wa.keys() == wb.keys()
    for key in wa:
        assert torch.equal(wa[key], wb[key]), key


def test_two_plus_one_epochs_equal_three(tmp_path, export):
    full = trainer(tmp_path / "full", export).fit()
    assert full["history"][-1]["epoch"] == 3
    scramble_global_rngs(1)
    trainer(tmp_path / "split", export).fit(stop_epoch=2)
    scramble_global_rngs(2)
    resumed = trainer(tmp_path / "split", export, resume=True)
    assert resumed.start_epoch == 2
    resumed.fit()
    assert_same_weights(tmp_path / "full", tmp_path / "split")
    rows_full, rows_split = history(tmp_path / "full"), history(tmp_path / "split")
    assert [r["epoch"] for r in rows_split] == [1, 2, 3]
    for a, b in zip(rows_full, rows_split):
        for key in KEYS:
            assert a.get(key) == b.get(key), (a["epoch"], key)
    opt_full = torch.load(latest_checkpoint(tmp_path / "full") / "optimizer.pt", weights_only=True)
    opt_split = torch.load(latest_checkpoint(tmp_path / "split") / "optimizer.pt", weights_only=True)
    states = zip(opt_full["optimizer"]["state"].items(), opt_split["optimizer"]["state"].items())
    for (ka, va), (kb, vb) in states:
        assert ka == kb and all(torch.equal(va[k], vb[k]) for k in va)
    kl_lines = (tmp_path / "split" / "latent_kl.jsonl").read_text().splitlines()
    assert [json.loads(x)["epoch"] for x in kl_lines] == [2, 3]


def test_budget_stops_at_an_epoch_boundary_and_resumes_exactly(tmp_path, export):
    trainer(tmp_path / "full", export).fit()
    run = trainer(tmp_path / "budget", export, max_minutes=2.5)
    ticks = itertools.count()
    run.clock = lambda: 60.0 * next(ticks)  # every reading of the clock: one more minute
    summary = run.fit()
    assert summary["stopped"] == "budget"
    rows = history(tmp_path / "budget")
    assert 1 <= len(rows) < 3 and rows[-1]["stopped"] == "budget"
    assert "val_cc" in rows[-1]  # the last epoch run is always validated
    assert latest_checkpoint(tmp_path / "budget").name == f"epoch-{len(rows):06d}"
    again = trainer(tmp_path / "budget", export, resume=True)  # no budget this time
    assert again.fit()["stopped"] is None
    assert_same_weights(tmp_path / "full", tmp_path / "budget")
    for a, b in zip(history(tmp_path / "full"), history(tmp_path / "budget")):
        for key in ("train_loss", "lr", "step"):
            assert a[key] == b[key], key
    assert history(tmp_path / "budget")[-1]["wall_time_s"] > rows[-1]["wall_time_s"]


def test_budget_is_not_part_of_the_run_identity(tmp_path, export, caplog):
    trainer(tmp_path / "run", export, epochs=2).fit(stop_epoch=1)
    with caplog.at_level("WARNING"):
        trainer(tmp_path / "run", export, epochs=2, max_minutes=30.0, resume=True)
    assert "changed training settings" not in caplog.text


def test_the_item_path_trains_too(tmp_path, export):
    summary = trainer(tmp_path / "exact", export, epochs=1, point_grid=0).fit()
    row = summary["history"][0]
    assert np.isfinite(row["train_loss"]) and row["data_time_s"] >= 0


def test_cli_budget_stop_then_resume(tmp_path):
    from click.testing import CliRunner

    from pymatgen_crystalnet.cli.train import train

    out = tmp_path / "run"
    tiny = [f"--set=model.{k}={v}" for k, v in TINY_MODEL.items()]
    common = ["--data", "synthetic:16", "--out", str(out), "--epochs", "3", "--no-progress", "--threads", "1",
              "--set", "training.batch_size=8", "--set", "val_grid=8", "--set", "n_strata=2", *tiny]
    r = CliRunner().invoke(train, [*common, "--set", "max_minutes=0.00001"])
    assert r.exit_code == 0, r.output
    assert "Stopped by the time budget" in r.output and "after epoch 1" in r.output
    r = CliRunner().invoke(train, [*common, "--resume"])  # the run's own budget again: one more epoch
    assert r.exit_code == 0, r.output
    assert [row["epoch"] for row in history(out)] == [1, 2]
    r = CliRunner().invoke(train, [*common, "--resume", "--set", "max_minutes=0"])
    assert r.exit_code == 0 and "Stopped" not in r.output, r.output
    assert [row["epoch"] for row in history(out)] == [1, 2, 3]


def test_resume_refuses_another_export(tmp_path, export):
    from pymatgen_crystalnet.training.checkpoint import CheckpointError

    trainer(tmp_path / "run", export, epochs=2).fit(stop_epoch=1)
    other = tmp_path / "other" / "ct.npz"  # the same crystals, one byte of the file changed
    other.parent.mkdir()
    blob = bytearray(export.read_bytes())
    blob[-1] ^= 0x01  # zip trailer comment byte: the export still reads, its digest differs
    other.write_bytes(bytes(blob))
    with pytest.raises(CheckpointError, match=r"SHA-256 .* resume with the same export"):
        trainer(tmp_path / "run", other, epochs=2, resume=True)
    copy = tmp_path / "copy" / "ct.npz"  # the same bytes elsewhere: the same run
    copy.parent.mkdir()
    copy.write_bytes(export.read_bytes())
    assert trainer(tmp_path / "run", copy, epochs=2, resume=True).start_epoch == 1
